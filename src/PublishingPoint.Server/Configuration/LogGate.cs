using System.Diagnostics;

namespace PublishingPoint.Server.Configuration;

/// <summary>
/// Lets the first line of a kind through, then at most one an interval, and says how many it held back since the
/// last: for lines anyone can cause at will (a refused request, a refused connection), which a flood must not turn
/// into a flood of the log (the async sink's bound would drop every other point's lines).
/// </summary>
internal sealed class LogGate(TimeSpan interval)
{
    private readonly long _interval = (long)(interval.TotalSeconds * Stopwatch.Frequency);
    private long _next;
    private long _held;

    /// <summary>True when this line is to be written; <paramref name="held"/> is then how many were not since the last one.</summary>
    public bool Pass(out long held)
    {
        var now = Stopwatch.GetTimestamp();
        var next = Volatile.Read(ref _next);
        if (now >= next && Interlocked.CompareExchange(ref _next, now + _interval, next) == next)
        {
            held = Interlocked.Exchange(ref _held, 0);
            return true;
        }

        Interlocked.Increment(ref _held);
        held = 0;
        return false;
    }
}
