namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Bounds the answers made for a request that no cache answers (time-shifted manifests and playlists, which may list a
/// whole day's archive: each once per version, or per half segment with a delay): at most <c>concurrency</c> rendered at once, at most <c>maxWaiting</c> waiting for a
/// turn; past that the request is refused (503 with Retry-After), so a flood of them takes at most its share of the
/// cores and never the memory of an unbounded queue.
/// </summary>
internal sealed class RenderGate(int concurrency, int maxWaiting) : IDisposable
{
    /// <summary>The server's gate for time-shifted answers: half the cores (at least one), 256 waiting.</summary>
    public static readonly RenderGate Shifted = new(Math.Max(1, Environment.ProcessorCount / 2), 256);

    private readonly SemaphoreSlim _turns = new(concurrency, concurrency);
    private int _admitted;

    /// <summary>A turn, to be disposed when the render is done; null when too many already wait (refuse the request).</summary>
    public async ValueTask<IDisposable?> EnterAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _admitted) > concurrency + maxWaiting)
        {
            Interlocked.Decrement(ref _admitted);
            return null;
        }

        try
        {
            await _turns.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Decrement(ref _admitted);
            throw;
        }

        return new Turn(this);
    }

    public void Dispose() => _turns.Dispose();

    private sealed class Turn(RenderGate gate) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                gate._turns.Release();
                Interlocked.Decrement(ref gate._admitted);
            }
        }
    }
}
