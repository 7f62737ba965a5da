using System.Diagnostics.Metrics;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// The transport's instruments (Meter "PublishingPoint.Transport"): response bodies sent without a copy. Summed here
/// with atomic adds and read when /metrics is scraped, not measured per body.
/// </summary>
internal sealed class TransportMetrics
{
    public const string MeterName = "PublishingPoint.Transport";

    // [0] memory, [1] sendfile.
    private readonly long[] _bodies = new long[2];
    private readonly long[] _bytes = new long[2];
    private long _waits;
    private long _leftEventLoop;
    private long _refused;
    private long _replayed;

    public TransportMetrics(IMeterFactory meters, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        if (services?.GetService(typeof(Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>)) is ReceiveBlockPoolFactory blocks)
        {
            meter.CreateObservableCounter("receive_blocks.allocated", () => blocks.Allocated, "{block}", "Receive blocks made for Kestrel (see ReceiveBlockKilobytes).");
            meter.CreateObservableGauge("receive_blocks.idle", () => blocks.IdleBytes, "By", "Bytes of receive blocks waiting to be lent again (at most 32 MB per listener).");
        }

        if (services?.GetService(typeof(UnsentAnswers)) is UnsentAnswers unsent)
        {
            meter.CreateObservableGauge("answers.unsent", () => unsent.Bytes, "By", "Bytes of answers held in memory for clients that have not taken them yet (MaxUnsentAnswerBytes).");
            meter.CreateObservableCounter("answers.cut", () => unsent.Cut, "{connection}", "Connections cut because answers waiting for their clients passed MaxUnsentAnswerBytes (the longest waiting first).");
        }

        meter.CreateObservableCounter("direct.bodies", () => Read(_bodies), "{body}", "Response bodies sent without a copy (DirectSend), via memory or sendfile.");
        meter.CreateObservableCounter("direct.bytes", () => Read(_bytes), "By", "Bytes of those bodies.");
        meter.CreateObservableCounter("direct.waits", () => Volatile.Read(ref _waits), "{send}",
            "Sends the socket could not take at once, so they waited for it to drain (slow or distant clients, answers larger than the socket's buffer).");
        meter.CreateObservableCounter("event_loop.connections_left", () => Volatile.Read(ref _leftEventLoop), "{connection}",
            "Connections moved from the socket engine's event threads to the thread pool because they carried a request other than a player's (EventLoopServing).");
        meter.CreateObservableCounter("answers.replayed", () => Volatile.Read(ref _replayed), "{answer}",
            "Players' requests answered below Kestrel with an answer kept from the same request before (AnswerReplay).");
        meter.CreateObservableCounter("connections.refused", () => Volatile.Read(ref _refused), "{connection}",
            "Connections closed on arrival because their client address held its maximum (MaxConnectionsPerAddress).");
    }

    public void ConnectionRefused() => Interlocked.Increment(ref _refused);

    public void Replayed() => Interlocked.Increment(ref _replayed);

    public void LeftEventLoop() => Interlocked.Increment(ref _leftEventLoop);

    public void SendWaited() => Interlocked.Increment(ref _waits);

    public void DirectBody(int bytes, bool sendfile)
    {
        var via = sendfile ? 1 : 0;
        Interlocked.Increment(ref _bodies[via]);
        Interlocked.Add(ref _bytes[via], bytes);
    }

    private static Measurement<long>[] Read(long[] values) =>
    [
        new(Volatile.Read(ref values[0]), new KeyValuePair<string, object?>("via", "memory")),
        new(Volatile.Read(ref values[1]), new KeyValuePair<string, object?>("via", "sendfile")),
    ];
}
