using System.Net;
using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Productions a player's request left before they ended. A run goes on when the request that started it is aborted
/// (so one player's hang-up cannot fail the others waiting for the same segment), so a client asking for distinct
/// archived segments and hanging up at once could start runs faster than they end, each holding its segment's bytes.
/// A run counts once, against the network (<see cref="ClientNetwork"/>) of the request that started it, when that
/// request leaves it. While a network has <c>maxPerNetwork</c> runs it left still going, or has any while all the runs
/// left hold <c>maxBytes</c> in estimates, no new production is started for it; a player that waits for its segments
/// (a viewer, a CDN's edge) leaves none, so it is never refused.
/// </summary>
internal sealed class OrphanedRuns(int maxPerNetwork, long maxBytes, IPNetwork[] trusted)
{
    // Counted without a bound of their own (a burst of hang-ups may pass it): the bound is on starting another.
    private readonly Transport.ConnectionLimits.AddressCounts _byNetwork = new(maxPerNetwork > 0 ? int.MaxValue : 0, trusted);
    private long _bytes;
    private int _runs;

    /// <summary>The estimated bytes of the runs left going.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The runs left going.</summary>
    public int Runs => Volatile.Read(ref _runs);

    /// <summary>
    /// Why <paramref name="client"/> may not start a production now; null when it may: always for a network that left
    /// none going (nor a trusted proxy, nor a client of no address).
    /// </summary>
    public string? Refusal(IPAddress? client)
    {
        var left = client is null ? 0 : _byNetwork.Held(client);
        return left == 0 ? null
            : left >= maxPerNetwork ? "this address left as many segments being made as it may (PublishingPoint:MaxProductionsPerAddress)"
            : Interlocked.Read(ref _bytes) >= maxBytes ? "the segments players left while they were being made fill what the server keeps for them (half of PublishingPoint:SegmentCacheMegabytes)"
            : null;
    }

    /// <summary><paramref name="client"/> left <paramref name="run"/> (of <paramref name="bytes"/> estimated) before it ended.</summary>
    public void Left(IPAddress? client, long bytes, Task run)
    {
        UInt128? key = null;
        if (client is not null)
        {
            _byNetwork.TryEnter(client, out key);
        }

        Interlocked.Add(ref _bytes, bytes);
        Interlocked.Increment(ref _runs);
        run.ContinueWith((_, state) => ((OrphanedRuns)state!).Ended(key, bytes), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Ended(UInt128? key, long bytes)
    {
        Interlocked.Add(ref _bytes, -bytes);
        Interlocked.Decrement(ref _runs);
        _byNetwork.Leave(key);
    }
}
