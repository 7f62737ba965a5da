using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Tracks;
namespace PublishingPoint.Server.Points;

public enum AppendResult
{
    Accepted,

    /// <summary>Already indexed (a redundant encoder, or a reconnect replaying the past): dropped, not an error.</summary>
    Duplicate,
}

/// <summary>
/// One rendition of a point and its fragment index, sorted by time. One writer at a time (the ingest that
/// feeds it, under the lock); players read snapshots.
/// </summary>
public sealed class Track
{
    private readonly List<FragmentEntry> _fragments = [];
    private readonly List<PartEntry> _openParts = [];
    private object? _openPartsFeed;
    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _longestPart;
    private CaptionKinds _captions;
    private long? _decodeShift;
    private int _firstInMemory;

    // Fragments before this one (in the memory window) had their bytes dropped (DropKeptBytes).
    private int _firstWithBytes;
    private readonly SegmentNumbering _numbering;

    /// <param name="changed">Called when a part or fragment was indexed, before those waiting on <see cref="Changed"/> wake (the point moves its version there).</param>
    public Track(TrackDescription description, SegmentNumbering? numbering = null, Action? changed = null)
    {
        Description = description;
        _numbering = numbering ?? new SegmentNumbering();
        _onChanged = changed;
    }

    private readonly Action? _onChanged;

    public TrackDescription Description { get; }

    /// <summary>Where the newest media of <paramref name="tracks"/> ends, in seconds (0 before any).</summary>
    public static double EndSeconds(IEnumerable<Track> tracks) =>
        tracks.Select(t => t.Last is { } last ? (double)last.End / t.Description.Timescale : 0).DefaultIfEmpty(0).Max();

    public TrackKey Key => Description.Key;

    /// <summary>Serialises the check-archive-index sequence of concurrent feeds of this track.</summary>
    public Lock WriteLock { get; } = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _fragments.Count;
            }
        }
    }

    /// <summary>Low-latency parts whose layout the indexed fragments keep (each kept with its fragment, for its segment's bytes).</summary>
    public long PartsIndexed => Interlocked.Read(ref _partsIndexed);

    private long _partsIndexed;

    public FragmentEntry? First
    {
        get
        {
            lock (_lock)
            {
                return _fragments.Count == 0 ? null : _fragments[0];
            }
        }
    }

    public FragmentEntry? Last
    {
        get
        {
            lock (_lock)
            {
                return _fragments.Count == 0 ? null : _fragments[^1];
            }
        }
    }

    /// <summary>Would a fragment starting at <paramref name="time"/> be new? Same rule as <see cref="Append"/>.</summary>
    public bool IsNew(long time)
    {
        lock (_lock)
        {
            return _fragments.Count == 0 || time >= _fragments[^1].End - Tolerance(_fragments[^1]);
        }
    }

    /// <param name="feed">The connection that made it; when another one's parts were listed for this segment, the
    /// segment is listed without parts (its own would not be the bytes already served under the same names).</param>
    public AppendResult Append(FragmentEntry entry, long memoryWindow, object? feed = null)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_lock)
        {
            if (_fragments.Count > 0 && entry.Time < _fragments[^1].End - Tolerance(_fragments[^1]))
            {
                return AppendResult.Duplicate;
            }

            if (_openParts.Count > 0 && feed is not null && !ReferenceEquals(_openPartsFeed, feed))
            {
                entry.Parts = null;
            }

            Register(entry);
            _fragments.Add(entry);
            Interlocked.Add(ref _partsIndexed, entry.Parts?.Count ?? 0);
            _decodeShift ??= DecodeShiftOf(entry.Samples);
            _openParts.Clear();
            _openPartsFeed = null;
            while (_firstInMemory < _fragments.Count - 1 && _fragments[_firstInMemory].End < entry.End - memoryWindow)
            {
                _fragments[_firstInMemory++].Evict();
            }

            SignalLocked();
            return AppendResult.Accepted;
        }
    }

    /// <summary>
    /// Drops the bytes (not the sample tables) of fragments in the memory window, oldest first, until
    /// <paramref name="wanted"/> bytes are dropped; the newest fragment's too when <paramref name="newestToo"/>.
    /// </summary>
    internal long DropKeptBytes(long wanted, bool newestToo)
    {
        lock (_lock)
        {
            long dropped = 0;
            var end = newestToo ? _fragments.Count : _fragments.Count - 1;
            var i = Math.Max(_firstInMemory, _firstWithBytes);
            for (; i < end && dropped < wanted; i++)
            {
                dropped += _fragments[i].DropBytes();
            }

            // Those before i hold no bytes now: the next call starts after them.
            _firstWithBytes = i;
            return dropped;
        }
    }

    /// <summary>
    /// Every fragment leaves memory (the point went VOD, or away): nothing is the live edge any more, so all are read from
    /// the archive from now on and their arrays go back to the ingest pool. A push that continues the track fills it again.
    /// </summary>
    public void LeaveMemory()
    {
        lock (_lock)
        {
            _openParts.Clear(); // a segment still being built when the point ended never completes
            _openPartsFeed = null;
            while (_firstInMemory < _fragments.Count)
            {
                _fragments[_firstInMemory++].Evict();
            }
        }
    }

    /// <summary>
    /// A chunk of the segment being built arrived: servable at once, and every held request is told. False when it
    /// does not follow the open segment's parts: those of one segment come from one feed (a second encoder on the
    /// stream, or a reconnection while the old connection lingers, cuts its chunks at other times: mixed, the listed
    /// parts would overlap) and in order.
    /// </summary>
    public bool TryAddPart(PartEntry part, object feed)
    {
        ArgumentNullException.ThrowIfNull(part);
        ArgumentNullException.ThrowIfNull(feed);
        lock (_lock)
        {
            // Before the first segment there is no nominal duration to number the open one by: its parts would be
            // listed under one number and the segment, once complete, under another.
            if ((_fragments.Count == 0 && _numbering.NominalTicks == 0)
                || (_fragments.Count > 0 && part.Time < _fragments[^1].End - Tolerance(_fragments[^1]))
                || (_openParts.Count > 0 && (!ReferenceEquals(_openPartsFeed, feed) || part.Time < _openParts[^1].End - (_openParts[^1].Duration / 2)))
                || (_openParts.Count == 0 && !part.Independent && !(_fragments.Count > 0 && Math.Abs(part.Time - _fragments[^1].End) <= Tolerance(_fragments[^1]))))
            {
                // The last: a segment's first part starts it (a keyframe, or where the last segment ended), never a chunk
                // from the middle of another feed's run.
                return false;
            }

            _openPartsFeed = feed;
            _openParts.Add(part);
            _longestPart = Math.Max(_longestPart, part.Duration);
            SignalLocked();
            return true;
        }
    }

    /// <summary>The segment <paramref name="feed"/> was building will not be indexed: its parts are no longer listed or served.</summary>
    public void DropOpenParts(object feed)
    {
        lock (_lock)
        {
            if (_openParts.Count > 0 && ReferenceEquals(_openPartsFeed, feed))
            {
                _openParts.Clear();
                _openPartsFeed = null;
                SignalLocked();
            }
        }
    }

    /// <summary>The TS segment writer last made for this video track, and for which audio: reused while they match.</summary>
    public TsWriterFor? TsWriter
    {
        get => Volatile.Read(ref _tsWriter);
        set => Volatile.Write(ref _tsWriter, value);
    }

    private TsWriterFor? _tsWriter;

    /// <summary>
    /// How far decode times must move back so no sample decodes after it is presented: a 'trun' v1 (as ffmpeg's ismv
    /// writes) has negative composition offsets. Fixed by the track's first fragment, so decode times stay continuous
    /// across segments produced independently.
    /// </summary>
    public long DecodeShift
    {
        get
        {
            lock (_lock)
            {
                return _decodeShift ?? 0;
            }
        }
    }

    /// <summary>
    /// The highest bit rate of any fragment this track has indexed (bits per second; 0 before any): a live DASH
    /// Representation's bandwidth, kept as fragments arrive so an MPD does not read the whole index for it.
    /// </summary>
    public double PeakBitsPerSecond
    {
        get
        {
            lock (_lock)
            {
                return _peakBitsPerSecond;
            }
        }
    }

    private double _peakBitsPerSecond;

    private FragmentEntry? _newestDiscontinuity;

    /// <summary>
    /// What the operator API shows of the index, read without a copy of it: how many fragments, the first's start and the
    /// last's end, the bytes held in memory (only the newest fragments can hold any), and the newest discontinuity.
    /// </summary>
    public TrackSummary Summary()
    {
        lock (_lock)
        {
            long inMemory = 0;
            for (var i = _firstInMemory; i < _fragments.Count; i++)
            {
                inMemory += _fragments[i].BytesInMemory;
            }

            return _fragments.Count == 0
                ? new TrackSummary(0, 0, 0, 0, null)
                : new TrackSummary(_fragments.Count, _fragments[0].Time, _fragments[^1].End, inMemory, _newestDiscontinuity);
        }
    }

    // Numbers the fragment and carries the running figures (discontinuities, longest segment, peak rate) on to it.
    private void Register(FragmentEntry entry)
    {
        if (entry.Duration > 0)
        {
            _peakBitsPerSecond = Math.Max(_peakBitsPerSecond, entry.Length * 8.0 * Description.Timescale / entry.Duration);
        }

        _newestDiscontinuity = entry.Discontinuity ? entry : _newestDiscontinuity;

        var previous = _fragments.Count == 0 ? null : _fragments[^1];
        _numbering.Observe(Description, entry.Duration);
        entry.Sequence = _numbering.Next(Description, entry.Time, entry.Duration, previous);
        if (previous is not null)
        {
            var counted = entry.Discontinuity && entry.Sequence == previous.Sequence + 1;
            entry.DiscontinuitiesThrough = previous.DiscontinuitiesThrough + (counted ? 1 : 0);
            entry.LongestBefore = Math.Max(previous.LongestBefore, previous.SegmentEnd(entry) - previous.Time);
        }
    }

    /// <summary>The number the segment now being built will have (its parts are named by it).</summary>
    private long OpenSequenceLocked()
    {
        var previous = _fragments.Count == 0 ? null : _fragments[^1];
        if (_openParts.Count == 0)
        {
            return previous is null ? 0 : previous.Sequence + 1;
        }

        return _numbering.NominalTicks == 0 && previous is null ? 0 : _numbering.Next(Description, _openParts[0].Time, 0, previous);
    }

    // Rounded up to a tenth of a second, so origins that joined at different fragments (whose B-frame depth may differ
    // by a frame) still agree on every decode time. At most a second (B-frames reorder a few frames): one wild offset in
    // the first fragment would otherwise move every later TS segment's decode times for the point's life; a sample
    // beyond it decodes when it is presented.
    private long DecodeShiftOf(FragmentSample[] samples)
    {
        long shift = 0;
        foreach (var sample in samples)
        {
            shift = Math.Max(shift, -(long)sample.CompositionOffset);
        }

        shift = Math.Min(shift, Description.Timescale);

        var grid = Math.Max(1, Description.Timescale / 10);
        return (shift + grid - 1) / grid * grid;
    }

    /// <summary>Closed captions seen in this track's video (SEI cc_data): what the masters and the MPD declare.</summary>
    public CaptionKinds Captions
    {
        get
        {
            lock (_lock)
            {
                return _captions;
            }
        }
    }

    /// <summary>Looks for captions in the first samples of a video fragment until some are found.</summary>
    public void ObserveCaptions(ReadOnlySpan<byte> fragment, FragmentSample[] samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (Description.Avc is not { } avc || Captions != CaptionKinds.None)
        {
            return;
        }

        var found = CaptionKinds.None;
        for (var i = 0; i < Math.Min(3, samples.Length); i++)
        {
            var s = samples[i];
            if (s.DataOffset >= 0 && s.Size > 0 && (long)s.DataOffset + s.Size <= fragment.Length)
            {
                found |= CaptionSei.Find(fragment.Slice(s.DataOffset, s.Size), avc.NalLengthSize);
            }
        }

        if (found != CaptionKinds.None)
        {
            lock (_lock)
            {
                _captions |= found;
            }
        }
    }

    /// <summary>The longest part this track has had (its PART-TARGET), 0 when it never had parts.</summary>
    public long LongestPart
    {
        get
        {
            lock (_lock)
            {
                return _longestPart;
            }
        }
    }

    /// <summary>The fragments, and the parts of the segment being built and its number.</summary>
    public FragmentEntry[] Snapshot(out long openSequence, out PartEntry[] openParts)
    {
        lock (_lock)
        {
            openSequence = OpenSequenceLocked();
            openParts = [.. _openParts];
            return [.. _fragments];
        }
    }

    /// <summary>Fragments a live render reads before its window: the context its first segment needs (a gap, an overlap), with room for rounding.</summary>
    private const int LiveTailMargin = 8;

    /// <summary>
    /// What a live render of a window of <paramref name="window"/> (track timescale) reads: the newest fragments, from a
    /// few before the window (and never fewer than <see cref="LiveTailMargin"/> plus 3), and the open segment. A copy
    /// of that run, not of the whole event: the cost of a live playlist does not grow with the channel's age
    /// (<see cref="FragmentEntry.DiscontinuitiesThrough"/> and <see cref="FragmentEntry.LongestBefore"/> carry what lies
    /// before). <paramref name="whole"/> tells that the run is the whole index.
    /// </summary>
    /// <param name="edge">Where the window ends when that is before the newest fragment's end (a TS segment waits for its audio).</param>
    public FragmentEntry[] LiveTail(long window, long edge, out long openSequence, out PartEntry[] openParts, out bool whole)
    {
        lock (_lock)
        {
            openSequence = OpenSequenceLocked();
            openParts = [.. _openParts];
            var first = _fragments.Count == 0 ? 0 : FirstEndingAfter(Math.Min(edge, _fragments[^1].End) - window);
            first = Math.Max(0, Math.Min(first, _fragments.Count - 3) - LiveTailMargin);
            whole = first == 0;
            return Copy(first, _fragments.Count - first);
        }
    }

    /// <summary>
    /// The live edge without a copy of the index: the open segment's number and how many parts it has, and the newest
    /// fragment. For what is asked on every part's arrival (blocking reloads, rendition reports).
    /// </summary>
    public FragmentEntry? Edge(out long openSequence, out int openParts)
    {
        lock (_lock)
        {
            openSequence = OpenSequenceLocked();
            openParts = _openParts.Count;
            return _fragments.Count == 0 ? null : _fragments[^1];
        }
    }

    /// <summary>The newest <paramref name="count"/> fragments (or fewer).</summary>
    public FragmentEntry[] Newest(int count)
    {
        lock (_lock)
        {
            return Copy(_fragments.Count - Math.Min(count, _fragments.Count), Math.Min(count, _fragments.Count));
        }
    }

    /// <summary>
    /// Segment <paramref name="sequence"/> and the fragment after it (what repackaging it needs: its end is where the next
    /// one starts), or none, with <paramref name="gone"/> when it is older than every fragment kept; and the open
    /// segment's number and parts. A copy of two entries, not of the whole event.
    /// </summary>
    public FragmentEntry[] SnapshotSegment(long sequence, out long openSequence, out PartEntry[] openParts, out bool gone)
    {
        lock (_lock)
        {
            openSequence = OpenSequenceLocked();
            openParts = [.. _openParts];
            gone = _fragments.Count > 0 && sequence < _fragments[0].Sequence;
            var index = IndexOf(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_fragments), sequence);
            return index < 0 ? [] : Copy(index, Math.Min(2, _fragments.Count - index));
        }
    }

    // One copy of a run of the list (GetRange then ToArray made two); under the lock.
    private FragmentEntry[] Copy(int index, int count)
    {
        var range = new FragmentEntry[count];
        _fragments.CopyTo(index, range, 0, count);
        return range;
    }

    /// <summary>Where segment <paramref name="sequence"/> is in <paramref name="fragments"/>, or -1.</summary>
    public static int IndexOf(ReadOnlySpan<FragmentEntry> fragments, long sequence)
    {
        var lo = 0;
        var hi = fragments.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var s = fragments[mid].Sequence;
            if (s == sequence)
            {
                return mid;
            }

            if (s < sequence)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return -1;
    }

    /// <summary>Completes the next time a part or a fragment is indexed (one notifier per track, whoever waits on it).</summary>
    public Task Changed
    {
        get
        {
            lock (_lock)
            {
                return _changed.Task;
            }
        }
    }

    /// <summary>The point changed state (VOD, deleted): every held request looks again now, not when its hold runs out.</summary>
    public void Signal()
    {
        lock (_lock)
        {
            SignalLocked();
        }
    }

    // The point's version moves before the waiters wake: a blocking playlist reload that woke first took the point's
    // cached playlist of the version before, which lacks what it waited for, and answered it with a long max-age.
    private void SignalLocked()
    {
        _onChanged?.Invoke();
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    /// <summary>Adds a fragment recovered from disk: no memory copy, no duplicate check beyond order.</summary>
    /// <param name="samples">Its table from the archive's scan (the entry keeps none): no read of the file again.</param>
    public void AddRecovered(FragmentEntry entry, FragmentSample[] samples)
    {
        lock (_lock)
        {
            if (_fragments.Count == 0 || entry.Time >= _fragments[^1].End - Tolerance(_fragments[^1]))
            {
                Register(entry);
                _fragments.Add(entry);
                _decodeShift ??= DecodeShiftOf(samples);
                _firstInMemory = _fragments.Count;
            }
        }
    }


    /// <summary>Drops the oldest fragments that <paramref name="prune"/> selects (archive past its kept length); returns how many.</summary>
    public int RemoveOldest(Func<FragmentEntry, bool> prune)
    {
        ArgumentNullException.ThrowIfNull(prune);
        lock (_lock)
        {
            var count = 0;
            while (count < _fragments.Count - 1 && prune(_fragments[count]))
            {
                count++;
            }

            for (var i = _firstInMemory; i < count; i++)
            {
                _fragments[i].Evict();
            }

            for (var i = 0; i < count; i++)
            {
                Interlocked.Add(ref _partsIndexed, -(_fragments[i].Parts?.Count ?? 0));
            }

            _fragments.RemoveRange(0, count);
            _firstInMemory = Math.Max(0, _firstInMemory - count);
            _firstWithBytes = Math.Max(0, _firstWithBytes - count);
            if (_newestDiscontinuity is { } discontinuity && _fragments.Count > 0 && discontinuity.Time < _fragments[0].Time)
            {
                _newestDiscontinuity = null;
            }

            return count;
        }
    }

    public FragmentEntry[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _fragments];
        }
    }

    /// <summary>Segments <paramref name="sequence"/> and later (a playlist's run): a copy of those, not of the whole event.</summary>
    public FragmentEntry[] SnapshotFromSequence(long sequence)
    {
        lock (_lock)
        {
            var first = FirstAtOrAfter(sequence);
            return Copy(first, _fragments.Count - first);
        }
    }

    /// <summary>At most <paramref name="max"/> segments numbered from <paramref name="from"/> up to, not including, <paramref name="to"/>.</summary>
    public FragmentEntry[] SnapshotRange(long from, long to, int max)
    {
        lock (_lock)
        {
            var first = FirstAtOrAfter(from);
            var end = (int)Math.Min(FirstAtOrAfter(to), (long)first + Math.Max(0, max));
            return Copy(first, Math.Max(0, end - first));
        }
    }

    /// <summary>How many segments are numbered <paramref name="sequence"/> or later.</summary>
    public int CountFrom(long sequence)
    {
        lock (_lock)
        {
            return _fragments.Count - FirstAtOrAfter(sequence);
        }
    }

    // Segment numbers grow along the list (gaps allowed): the first index whose number is at least the one given.
    private int FirstAtOrAfter(long sequence)
    {
        var lo = 0;
        var hi = _fragments.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_fragments[mid].Sequence < sequence)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>Fragments whose end lies after <paramref name="from"/>.</summary>
    public FragmentEntry[] SnapshotFrom(long from)
    {
        lock (_lock)
        {
            var first = FirstEndingAfter(from);
            return Copy(first, _fragments.Count - first);
        }
    }

    /// <summary>Fragments whose end lies after <paramref name="from"/> and whose start lies before <paramref name="to"/>.</summary>
    public FragmentEntry[] SnapshotBetween(long from, long to)
    {
        lock (_lock)
        {
            var (first, end) = RangeBetweenLocked(from, to);
            return end == first ? [] : Copy(first, end - first);
        }
    }

    /// <summary>
    /// <see cref="SnapshotBetween"/> into <paramref name="into"/> (no array made): how many fragments there are; when more
    /// than fit, only the first <c>into.Length</c> were copied, and the caller asks again with room for all.
    /// </summary>
    public int CopyBetween(long from, long to, FragmentEntry[] into)
    {
        ArgumentNullException.ThrowIfNull(into);
        lock (_lock)
        {
            var (first, end) = RangeBetweenLocked(from, to);
            _fragments.CopyTo(first, into, 0, Math.Min(end - first, into.Length));
            return end - first;
        }
    }

    private (int First, int End) RangeBetweenLocked(long from, long to)
    {
        var first = FirstEndingAfter(from);
        var end = first;
        while (end < _fragments.Count && _fragments[end].Time < to)
        {
            end++;
        }

        return (first, end);
    }

    /// <summary>The fragment starting exactly at <paramref name="time"/> and up to <paramref name="following"/> after it.</summary>
    public FragmentEntry? Find(long time, int following, out FragmentEntry[] next)
    {
        lock (_lock)
        {
            next = [];
            var lo = 0;
            var hi = _fragments.Count - 1;
            while (lo <= hi)
            {
                var mid = (lo + hi) >>> 1;
                var t = _fragments[mid].Time;
                if (t == time)
                {
                    var count = Math.Min(following, _fragments.Count - mid - 1);
                    next = count > 0 ? Copy(mid + 1, count) : [];
                    return _fragments[mid];
                }

                if (t < time)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            return null;
        }
    }

    private int FirstEndingAfter(long time)
    {
        var lo = 0;
        var hi = _fragments.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_fragments[mid].End <= time)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    // Encoders round durations; a fragment that starts within half of the previous one's end is its successor.
    private static long Tolerance(FragmentEntry last) => last.Duration / 2;
}

/// <summary>A TS segment writer and what it was made for: the audio muxed in (its description) and timed ID3.</summary>
public sealed record TsWriterFor(TrackDescription? Audio, bool TimedId3, PublishingPoint.Media.MpegTs.TsSegmentWriter Writer);

/// <summary>A track's index as the operator API shows it (<see cref="Track.Summary"/>); times in the track's timescale.</summary>
public readonly record struct TrackSummary(int Count, long FirstTime, long LastEnd, long BytesInMemory, FragmentEntry? NewestDiscontinuity);
