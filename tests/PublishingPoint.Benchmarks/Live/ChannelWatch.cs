using System.Collections.Concurrent;

namespace PublishingPoint.Benchmarks.Live;

/// <summary>When a segment was first listed by any viewer of the channel, and when its media ended by the playlist's clock.</summary>
internal sealed record SegmentSighting(DateTime FirstListedUtc, DateTime MediaEndUtc, double DurationSeconds, bool AlreadyThere);

/// <summary>Lateness of one channel: how many fragments came late, and the worst delay beyond the channel's usual one.</summary>
internal sealed record Lateness(int Observed, int Late, int Overdue, double WorstSeconds)
{
    /// <summary>When each late fragment was first listed: scattered ones are jitter, a cluster on every channel is a stall.</summary>
    public IReadOnlyList<DateTime> LateListedUtc { get; init; } = [];
}

/// <summary>
/// What the viewers of one channel saw: every segment of every rendition with the time it was first listed, and
/// the errors. A fragment is late when it was listed more than one fragment duration after it should have been:
/// its media end (EXT-X-PROGRAM-DATE-TIME + EXTINF, the server's wall-clock anchor) plus the channel's smallest
/// delay (the encoder's fragment wait and the polling), so a steady channel has no late fragment whatever its
/// constant latency. Segments overdue at the end (not listed at all) count as late too.
/// </summary>
internal sealed class ChannelWatch(string name)
{
    private readonly ConcurrentDictionary<(string Variant, long Number), SegmentSighting> _seen = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private int _segmentErrors;
    private int _playlistErrors;
    private long _segments;
    private long _bytes;
    private int _slow;
    private double _worstDelivery;
    private readonly ConcurrentQueue<DateTime> _slowAt = new();

    public string Name { get; } = name;

    public int SegmentErrors => _segmentErrors;

    public int PlaylistErrors => _playlistErrors;

    public long SegmentsFetched => Interlocked.Read(ref _segments);

    public long BytesFetched => Interlocked.Read(ref _bytes);

    public IReadOnlyCollection<string> ErrorSamples => _errors;

    /// <summary>Segments that arrived whole later than a player would play them (the viewer's download queue included).</summary>
    public int SlowSegments => Volatile.Read(ref _slow);

    public double WorstDeliverySeconds => Volatile.Read(ref _worstDelivery);

    public IReadOnlyCollection<DateTime> SlowAtUtc => _slowAt;

    /// <summary>
    /// A segment arrived whole <paramref name="seconds"/> after its viewer first saw it listed; it was due
    /// <paramref name="dueSeconds"/> after (its duration, plus those of the segments before it in the same listing).
    /// </summary>
    public void Delivered(double seconds, double dueSeconds)
    {
        lock (_slowAt)
        {
            _worstDelivery = Math.Max(_worstDelivery, seconds);
        }

        if (seconds > dueSeconds)
        {
            Interlocked.Increment(ref _slow);
            _slowAt.Enqueue(DateTime.UtcNow);
        }
    }

    public void Listed(string variant, long number, SegmentSighting sighting) =>
        _seen.AddOrUpdate((variant, number), sighting, (_, old) => sighting.FirstListedUtc < old.FirstListedUtc
            ? sighting with { AlreadyThere = old.AlreadyThere && sighting.AlreadyThere }
            : old);

    public void Fetched(long bytes)
    {
        Interlocked.Increment(ref _segments);
        Interlocked.Add(ref _bytes, bytes);
    }

    public void SegmentError(string what)
    {
        Interlocked.Increment(ref _segmentErrors);
        Remember(what);
    }

    public void PlaylistError(string what)
    {
        Interlocked.Increment(ref _playlistErrors);
        Remember(what);
    }

    /// <summary>Lateness over every rendition, as of <paramref name="endUtc"/> (when the viewers stopped).</summary>
    public Lateness Measure(DateTime endUtc, double fragmentSeconds)
    {
        var observed = 0;
        var late = 0;
        var overdue = 0;
        var worst = 0.0;
        var lateAt = new List<DateTime>();
        var byVariant = _seen.GroupBy(s => s.Key.Variant).ToArray();
        if (byVariant.Length == 0)
        {
            // nothing ever listed: every fragment of the run is missing
            return new Lateness(0, 0, 1, double.PositiveInfinity);
        }

        foreach (var variant in byVariant)
        {
            var fresh = variant.Where(s => !s.Value.AlreadyThere).Select(s => s.Value).ToArray();
            var all = variant.OrderBy(s => s.Key.Number).Select(s => s.Value).ToArray();
            var delays = fresh.Select(s => (s.FirstListedUtc - s.MediaEndUtc).TotalSeconds).ToArray();
            var baseline = delays.Length == 0 ? 0 : delays.Min();
            foreach (var s in fresh)
            {
                observed++;
                var beyond = (s.FirstListedUtc - s.MediaEndUtc).TotalSeconds - baseline;
                worst = Math.Max(worst, beyond);
                if (beyond > s.DurationSeconds)
                {
                    late++;
                    lateAt.Add(s.FirstListedUtc);
                }
            }

            // Fragments that should have been listed by the end and were not.
            var last = all[^1];
            var missing = (int)Math.Floor(((endUtc - last.MediaEndUtc).TotalSeconds - baseline) / fragmentSeconds) - 1;
            if (missing > 0)
            {
                overdue += missing;
                worst = Math.Max(worst, (endUtc - last.MediaEndUtc).TotalSeconds - baseline);
            }
        }

        return new Lateness(observed, late + overdue, overdue, worst) { LateListedUtc = lateAt };
    }

    private void Remember(string what)
    {
        if (_errors.Count < 20)
        {
            _errors.Enqueue($"{Name}: {what}");
        }
    }
}
