namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>
/// Requests waiting for media that is not there yet: blocking playlist reloads, part hints and the open segment
/// streamed as it grows. Each holds a connection (and MaxConnections bounds them); the count is for operators.
/// </summary>
internal sealed class HeldRequests
{
    private long _now;

    public long Now => Volatile.Read(ref _now);

    public Scope Enter()
    {
        Interlocked.Increment(ref _now);
        return new Scope(this);
    }

    internal readonly struct Scope(HeldRequests owner) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref owner._now);
    }
}
