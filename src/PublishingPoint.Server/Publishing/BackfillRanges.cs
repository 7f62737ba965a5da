using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Publishing;

/// <summary>
/// Per rendition, the runs of segments older than the live window that the store still lacks (from, to: to not
/// included), oldest first. A run is added when live publishing skips ahead to the window (an outage longer than it, a
/// point with hours archived); runs stay apart, so what the store took between two such skips is not put again. Not
/// thread-safe: the publisher calls it under its lock.
/// </summary>
internal sealed class BackfillRanges
{
    private readonly Dictionary<Rendition, List<(long From, long To)>> _runs = [];

    public bool IsEmpty => _runs.Count == 0;

    public void Add(Rendition rendition, long from, long to)
    {
        if (to <= from)
        {
            return;
        }

        if (!_runs.TryGetValue(rendition, out var runs))
        {
            _runs[rendition] = runs = [];
        }

        if (runs.Count > 0 && runs[^1].To >= from)
        {
            runs[^1] = (Math.Min(runs[^1].From, from), Math.Max(runs[^1].To, to));
        }
        else
        {
            runs.Add((from, to));
        }
    }

    /// <summary>Segments of <paramref name="track"/> in the runs of <paramref name="rendition"/>.</summary>
    public long Count(Rendition rendition, Track track) =>
        _runs.TryGetValue(rendition, out var runs) ? runs.Sum(r => (long)track.CountFrom(r.From) - track.CountFrom(r.To)) : 0;

    /// <summary>
    /// Up to <paramref name="budget"/> segments of each rendition, oldest run first (a VOD's pass asks for all of them);
    /// runs with none left (all put, or pruned by the origin first: <paramref name="pruned"/> is told how many numbers)
    /// are dropped.
    /// </summary>
    public List<(Rendition Rendition, long Sequence)> Next(Func<Rendition, Track?> track, int budget, Action<long> pruned)
    {
        var work = new List<(Rendition Rendition, long Sequence)>();
        foreach (var (rendition, runs) in _runs.ToList())
        {
            var left = budget;
            for (var i = 0; i < runs.Count && left > 0;)
            {
                var (from, to) = runs[i];
                if (track(rendition) is not { } source || source.SnapshotRange(from, to, left) is not { Length: > 0 } entries)
                {
                    runs.RemoveAt(i);
                    continue;
                }

                if (source.First?.Sequence > from)
                {
                    pruned(Math.Min(source.First.Sequence, to) - from);
                }

                runs[i] = (entries[0].Sequence, to);
                work.AddRange(entries.Select(e => (rendition, e.Sequence)));
                left -= entries.Length;
                i++;
            }

            if (runs.Count == 0)
            {
                _runs.Remove(rendition);
            }
        }

        return work;
    }

    /// <summary>Segment <paramref name="sequence"/> of <paramref name="rendition"/> is in the store (or cannot be made); segments go in order within a run.</summary>
    public void Done(Rendition rendition, long sequence)
    {
        if (!_runs.TryGetValue(rendition, out var runs))
        {
            return;
        }

        var i = runs.FindIndex(r => sequence >= r.From && sequence < r.To);
        if (i < 0)
        {
            return;
        }

        runs[i] = (sequence + 1, runs[i].To);
        if (runs[i].From >= runs[i].To)
        {
            runs.RemoveAt(i);
        }

        if (runs.Count == 0)
        {
            _runs.Remove(rendition);
        }
    }

    /// <summary>The runs of <paramref name="rendition"/> as the progress file keeps them: [from, to] pairs.</summary>
    public long[][]? Saved(Rendition rendition) =>
        _runs.TryGetValue(rendition, out var runs) && runs.Count > 0 ? [.. runs.Select(r => new[] { r.From, r.To })] : null;

    public void Restore(Rendition rendition, long[][]? saved)
    {
        foreach (var run in saved ?? [])
        {
            if (run is [var from, var to])
            {
                Add(rendition, from, to);
            }
        }
    }
}
