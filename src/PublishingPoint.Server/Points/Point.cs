using PublishingPoint.Media.Timing;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Archive;

namespace PublishingPoint.Server.Points;

/// <summary>
/// A publishing point: the tracks fed by one or more ingest streams, their archives, and its state.
/// Structural changes happen under one lock; fragment appends go through the track's own lock.
/// </summary>
public sealed class Point : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Lock _folderLock = new();
    private readonly Dictionary<TrackKey, Track> _tracks = [];
    private readonly Dictionary<string, StreamFeed> _streams = new(StringComparer.Ordinal);
    private readonly List<StreamArchive> _archives = [];
    private long _version;
    private PointState _state = PointState.Idle;
    private CancellationTokenSource _closing = new();

    /// <param name="memory">The server's bound on fragment bytes kept in memory; none when not given.</param>
    public Point(PointPath path, string directory, long outputCacheBytes = 16L * 1024 * 1024, FragmentMemory? memory = null)
    {
        Path = path;
        Directory = directory;
        Output = new OutputCache(outputCacheBytes);
        KeptBytes = new KeptFragmentBytes(memory ?? FragmentMemory.Unbounded);
    }

    /// <summary>Fragment bytes this point's index keeps in memory (see <see cref="FragmentMemory"/>).</summary>
    public KeptFragmentBytes KeptBytes { get; }

    /// <summary>
    /// Drops at least <paramref name="wanted"/> kept bytes if it has them: the bytes before each track's newest fragment
    /// first (track by track, oldest first), then the newest fragments'. Returns the bytes dropped.
    /// </summary>
    /// <param name="wait">Wait for the point's lock; else drop nothing when another thread holds it.</param>
    internal long DropKeptBytes(long wanted, bool wait)
    {
        Track[] tracks;
        if (wait)
        {
            tracks = Tracks();
        }
        else if (_lock.TryEnter())
        {
            try
            {
                tracks = [.. _tracks.Values];
            }
            finally
            {
                _lock.Exit();
            }
        }
        else
        {
            return 0;
        }

        long dropped = 0;
        foreach (var newestToo in (bool[])[false, true])
        {
            foreach (var track in tracks)
            {
                if (dropped >= wanted)
                {
                    return dropped;
                }

                dropped += track.DropKeptBytes(wanted - dropped, newestToo);
            }
        }

        return dropped;
    }

    /// <summary>Viewers and egress of this point.</summary>
    public Audience Audience { get; } = new();

    /// <summary>Rendered manifests, playlists and MPDs of this point, by resource name and index version.</summary>
    public OutputCache Output { get; }

    public PointPath Path { get; }

    public PointSettings Settings { get; internal set; } = new();

    /// <summary>True when an operator created it (its settings are on disk) rather than an encoder by pushing.</summary>
    public bool CreatedByOperator { get; internal set; }

    /// <summary>Closed by an operator: finalised, and ingest is refused until it is opened again.</summary>
    public bool Closed { get; private set; }

    /// <summary>Cancelled when an operator closes the point: running ingests stop at once.</summary>
    public CancellationToken ClosingToken
    {
        get
        {
            lock (_lock)
            {
                // A deleted point's source is disposed (after Retired is set, under this lock): its ingest is to stop.
                return Retired ? new CancellationToken(canceled: true) : _closing.Token;
            }
        }
    }

    public int ConnectionCount
    {
        get
        {
            lock (_lock)
            {
                return _streams.Values.Sum(s => s.Connections);
            }
        }
    }

    /// <summary>Refuses new ingest and stops the running ones.</summary>
    public void Close()
    {
        CancellationTokenSource closing;
        lock (_lock)
        {
            Closed = true;
            if (Retired)
            {
                return; // deleted meanwhile: its ingest was stopped and its source is gone
            }

            closing = _closing;
        }

        closing.Cancel();
    }

    public void Open()
    {
        lock (_lock)
        {
            if (!Closed)
            {
                return;
            }

            Closed = false;
            _closing.Dispose();
            _closing = new CancellationTokenSource();
        }
    }

    public DateTimeOffset CreatedAt { get; internal set; } = DateTimeOffset.UtcNow;

    private static long _serials;

    /// <summary>This point object's number, unique in the process: one deleted and made again under its path is another.</summary>
    public long Serial { get; } = Interlocked.Increment(ref _serials);

    /// <summary>
    /// Wall-clock time of media time 0, fixed when the first fragment arrives (arrival time minus its media time)
    /// and kept in timeline.json, so program date times, time-shift and clip times mean the same after a restart.
    /// </summary>
    public DateTimeOffset? TimelineAnchor { get; private set; }

    private const string TimelineFile = "timeline.json";

    public void AnchorTimeline(DateTimeOffset now, double mediaSeconds)
    {
        lock (_lock)
        {
            if (TimelineAnchor is not null)
            {
                return;
            }

            TimelineAnchor = now - TimeSpan.FromSeconds(mediaSeconds);
        }

        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new { anchor = TimelineAnchor });
        Archive.Durable.WriteFile(System.IO.Path.Combine(Directory, TimelineFile), json);
    }

    private DateTimeOffset? _fallbackAnchor;

    /// <summary>
    /// The wall clock of media time 0 for every output (program date times, the MPD's availabilityStartTime, time-shift):
    /// <see cref="TimelineAnchor"/>, or for a point without one (media recovered from before anchors were kept) a
    /// stand-in fixed the first time it is asked: a live point as now minus its newest media time, a VOD one as its
    /// folder's creation time.
    /// </summary>
    public DateTimeOffset Anchor(DateTimeOffset now)
    {
        if (TimelineAnchor is { } anchor)
        {
            return anchor;
        }

        var candidate = State == PointState.Live
            ? now - TimeSpan.FromSeconds(NewestMediaSeconds())
            : new DateTimeOffset(System.IO.Directory.GetCreationTimeUtc(Directory), TimeSpan.Zero);
        lock (_lock)
        {
            return _fallbackAnchor ??= candidate;
        }
    }

    /// <summary>Where the oldest indexed media of any track starts (100 ns ticks of media time); null with none.</summary>
    public long? EarliestMediaTicks()
    {
        var earliest = long.MaxValue;
        foreach (var track in Tracks())
        {
            if (track.First is { } first)
            {
                earliest = Math.Min(earliest, Timescale.Rescale(first.Time, track.Description.Timescale, TimeSpan.TicksPerSecond));
            }
        }

        return earliest == long.MaxValue ? null : earliest;
    }

    private double NewestMediaSeconds()
    {
        var seconds = 0.0;
        foreach (var track in Tracks())
        {
            if (track.Last is { } last)
            {
                seconds = Math.Max(seconds, (double)last.End / track.Description.Timescale);
            }
        }

        return seconds;
    }

    // An event is kept while media of its time is indexed, so a segment made again (after a cache eviction or a
    // restart, or on another origin) carries what it carried when first made; older ones go. 4096 holds an ID3 tag in
    // every 2 s segment of a two-hour event.
    private const int MaxEvents = 4096;
    // Every new event rewrites the events file (with fsync): what it holds and how often are bounded, so an encoder
    // sending 64 KB events by the hundred cannot turn that into gigabytes a second.
    private const int MaxEventBytes = 1024 * 1024;
    private const int MaxEventsPerSecond = 8;
    private readonly List<TimedEvent> _events = [];
    private long _eventBytes;
    private double _eventTokens = MaxEventsPerSecond;
    private DateTimeOffset? _eventTokensAt;
    private bool _refusingEvents;

    private bool _carriesId3;

    /// <summary>Whether an ID3 event ever came (the TS segments then declare a timed-metadata stream); no copy of the events.</summary>
    public bool CarriesId3
    {
        get
        {
            lock (_lock)
            {
                return _carriesId3;
            }
        }
    }

    /// <summary>The timed events of the point, oldest first (the newest <see cref="MaxEvents"/>).</summary>
    public TimedEvent[] Events()
    {
        lock (_lock)
        {
            return [.. _events];
        }
    }

    /// <summary>The events that start in [<paramref name="fromTicks"/>, <paramref name="toTicks"/>), oldest first; no copy of the rest.</summary>
    public TimedEvent[] EventsStartingIn(long fromTicks, long toTicks)
    {
        lock (_lock)
        {
            var lo = FirstStartingAtOrAfter(fromTicks);
            var end = lo;
            while (end < _events.Count && _events[end].StartTicks < toTicks)
            {
                end++;
            }

            return end == lo ? [] : [.. _events.GetRange(lo, end - lo)];
        }
    }

    // Under _lock: the index of the first event that starts at or after ticks (the count when none does).
    private int FirstStartingAtOrAfter(long ticks)
    {
        int lo = 0, hi = _events.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_events[mid].StartTicks < ticks)
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

    /// <summary>
    /// Adds an event unless a feed already gave it (redundant encoders send the same cue), or the point took its
    /// <see cref="MaxEventsPerSecond"/> new events in the second before <paramref name="now"/> already (null: not limited,
    /// for the saved ones being loaded). The kept events' messages stay within <see cref="MaxEventBytes"/>, the oldest going first.
    /// </summary>
    public EventAdded AddEvent(TimedEvent timedEvent, DateTimeOffset? now)
    {
        ArgumentNullException.ThrowIfNull(timedEvent);
        var earliest = EarliestMediaTicks() ?? long.MinValue;
        lock (_lock)
        {
            // Kept in order of their starts: the place of this one, after those that start with it (none of which may be it).
            var place = FirstStartingAtOrAfter(timedEvent.StartTicks);
            for (; place < _events.Count && _events[place].StartTicks == timedEvent.StartTicks; place++)
            {
                if (_events[place].Scheme == timedEvent.Scheme && _events[place].Id == timedEvent.Id)
                {
                    return EventAdded.Duplicate;
                }
            }

            // A bucket of a second's events, filled again as time passes: a burst takes what it holds.
            if (now is { } at)
            {
                _eventTokens = Math.Min(MaxEventsPerSecond, _eventTokens + (Math.Max(0, (at - (_eventTokensAt ?? at)).TotalSeconds) * MaxEventsPerSecond));
                _eventTokensAt = at;
                if (_eventTokens < 1)
                {
                    var first = !_refusingEvents;
                    _refusingEvents = true;
                    return first ? EventAdded.FirstRefused : EventAdded.Refused;
                }

                _eventTokens--;
                _refusingEvents = false;
            }

            _events.Insert(place, timedEvent);
            _eventBytes += timedEvent.Message.Length;
            _carriesId3 |= timedEvent.IsId3;
            while (_events.Count > MaxEvents || (_eventBytes > MaxEventBytes && _events.Count > 1)
                || (_events.Count > 1 && _events[0].StartTicks + (_events[0].DurationTicks ?? 0) < earliest))
            {
                _eventBytes -= _events[0].Message.Length;
                _events.RemoveAt(0);
            }
        }

        Touch();
        return EventAdded.Added;
    }

    private const string EventsFile = "events.json";
    private readonly Lock _eventsFileLock = new();

    private sealed record SavedEvent(string Scheme, string Value, uint Id, long Start, long? Duration, byte[] Message);

    // Written once a point has carried an ID3 tag: its TS segments declare the tag stream from then on, also after a
    // restart whose saved events no longer hold one (they go with their media), so a segment made again is the same.
    private const string Id3File = "events.id3";

    /// <summary>Writes the kept events next to the archives (atomically), so a restarted server still announces them.</summary>
    public void SaveEvents()
    {
        lock (_eventsFileLock)
        {
            SaveId3Mark();
            var saved = Events().Select(e => new SavedEvent(e.Scheme, e.Value, e.Id, e.StartTicks, e.DurationTicks, e.Message)).ToArray();
            Archive.Durable.WriteFile(System.IO.Path.Combine(Directory, EventsFile), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(saved));
        }
    }

    private void SaveId3Mark()
    {
        var id3 = System.IO.Path.Combine(Directory, Id3File);
        if (CarriesId3 && !File.Exists(id3))
        {
            Archive.Durable.WriteFile(id3, []);
        }
    }

    /// <summary>The events saved by <see cref="SaveEvents"/>; a damaged file loses the events, never the point.</summary>
    internal void LoadEvents()
    {
        if (File.Exists(System.IO.Path.Combine(Directory, Id3File)))
        {
            lock (_lock)
            {
                _carriesId3 = true;
            }
        }

        var file = System.IO.Path.Combine(Directory, EventsFile);
        if (!File.Exists(file))
        {
            return;
        }

        SavedEvent[]? saved;
        try
        {
            saved = System.Text.Json.JsonSerializer.Deserialize<SavedEvent[]>(File.ReadAllBytes(file));
        }
        catch (System.Text.Json.JsonException)
        {
            return;
        }

        foreach (var e in saved ?? [])
        {
            if (e is { Scheme: not null, Value: not null, Message: not null })
            {
                AddEvent(TimedEvent.Create(e.Scheme, e.Value, e.Id, e.Start, e.Duration, e.Message), now: null);
            }
        }

        // Events saved before the mark was (an older server's): marked now, before the tag can age out of them.
        try
        {
            lock (_eventsFileLock)
            {
                SaveId3Mark();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Marked with the next event saved.
        }
    }

    /// <summary>Segment numbers from media time, shared by the point's tracks so renditions line up.</summary>
    public SegmentNumbering Numbering { get; } = new();

    /// <summary>Ticks (100 ns) of the earliest media a presentation of the point starts from, fixed once known so it never moves.</summary>
    public long? PresentationOrigin { get; set; }

    internal void LoadTimeline()
    {
        var file = System.IO.Path.Combine(Directory, TimelineFile);
        if (!File.Exists(file))
        {
            return;
        }

        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(file));
            if (doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("anchor", out var anchor)
                && anchor.ValueKind == System.Text.Json.JsonValueKind.String && anchor.TryGetDateTimeOffset(out var value)
                && value.Year is >= 1800 and <= 2200) // one a bad 'prft' left (the year 9949) would make every dated answer fail
            {
                TimelineAnchor = value;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // damaged: the anchor falls back as for an archive that never had one
        }
    }

    public int DvrWindowSeconds(int fallback) => Settings.DvrWindowSeconds ?? fallback;

    public string Directory { get; }

    public PointState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    /// <summary>Changes whenever a fragment is indexed or the state changes; rendered output is cached against it.</summary>
    public long Version => Interlocked.Read(ref _version);


    /// <summary>
    /// A segment pusher's final playlist: the end of stream <paramref name="streamId"/>, or of every stream when it names
    /// none of them (an MPD covers all its representations). Segment uploads race with it, so a request that finishes
    /// shortly after every stream ended finalises the point sooner than the grace period; while another encoder of the
    /// point pushes on, it does not.
    /// </summary>
    public void AnnounceEnd(string? streamId, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (streamId is not null && _streams.TryGetValue(streamId, out var stream))
            {
                stream.EndedAt = now;
                return;
            }

            foreach (var s in _streams.Values)
            {
                s.EndedAt = now;
            }
        }
    }

    /// <summary>True when every stream with media announced its end within <paramref name="span"/>.</summary>
    public bool EveryStreamEndedWithin(DateTimeOffset now, TimeSpan span)
    {
        lock (_lock)
        {
            var any = false;
            foreach (var s in _streams.Values)
            {
                if (s.Archive is null && s.Connections == 0)
                {
                    continue;
                }

                if (s.EndedAt is not { } at || now - at > span)
                {
                    return false;
                }

                any = true;
            }

            return any;
        }
    }

    public void Touch() => Interlocked.Increment(ref _version);

    /// <summary>
    /// The publishTime of the live MPD at <paramref name="version"/>: one per version, so a render of the same version
    /// (another origin's cache miss, an eviction) is the same bytes under the same ETag, and later than every one before
    /// it to the millisecond an MPD writes (DASH: it grows whenever the MPD changes), whatever the clock did meanwhile
    /// or however late a slow render of a newer version finishes.
    /// </summary>
    public DateTimeOffset PublishTime(long version, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (version > _published.Version)
            {
                var millisecond = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
                _published = (version, millisecond > _published.Time ? millisecond : _published.Time.AddMilliseconds(1));
            }

            return _published.Time;
        }
    }

    private (long Version, DateTimeOffset Time) _published = (-1, DateTimeOffset.MinValue);

    /// <summary>Fragments listed before their fsync and lost when it failed twice (<see cref="FragmentEntry.Lost"/>).</summary>
    public int LostFragments => Volatile.Read(ref _lostFragments);

    private int _lostFragments;

    /// <summary>Counts fragments found lost with a cut archive; the outputs change (their gaps), so the version does.</summary>
    public void NoteLost(int fragments)
    {
        Interlocked.Add(ref _lostFragments, fragments);
        Touch();
    }

    private long _ingestBytes;

    /// <summary>Bytes the point's ingest connections hold before indexing (see Ingest.IngestMemory).</summary>
    public long IngestBytes => Interlocked.Read(ref _ingestBytes);

    internal long AddIngestBytes(long delta) => Interlocked.Add(ref _ingestBytes, delta);

    private (double EndSeconds, DateTimeOffset At)? _edge;

    /// <summary>Records that media up to <paramref name="endSeconds"/> arrived at <paramref name="now"/> (the live edge).</summary>
    public void AdvanceEdge(double endSeconds, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (_edge is not { } edge || endSeconds >= edge.EndSeconds)
            {
                _edge = (endSeconds, now);
            }
        }
    }

    /// <summary>When the point's newest media arrived; null before the first fragment.</summary>
    public DateTimeOffset? EdgeArrivedAt
    {
        get
        {
            lock (_lock)
            {
                return _edge?.At;
            }
        }
    }

    /// <summary>
    /// Where the live edge should be by now: the newest media end plus the wall-clock time since it arrived, so an
    /// encoder back after an outage with a wall-clock timeline is not "ahead". Null before the first fragment.
    /// </summary>
    public double? ExpectedEdgeSeconds(DateTimeOffset now)
    {
        lock (_lock)
        {
            return _edge is { } edge ? edge.EndSeconds + Math.Max(0, (now - edge.At).TotalSeconds) : null;
        }
    }

    private readonly Dictionary<string, int> _audioSetIds = new(StringComparer.Ordinal);

    /// <summary>
    /// The DASH AdaptationSet id of the point's audio in <paramref name="language"/>, given on first sight and kept (the
    /// video set is 0): players match sets across MPD updates by id, and a language joining at a higher bit rate
    /// renumbered the others when ids followed the tracks' order.
    /// </summary>
    public int AudioSetId(string language)
    {
        lock (_lock)
        {
            if (!_audioSetIds.TryGetValue(language, out var id))
            {
                id = _audioSetIds.Count + 1;
                _audioSetIds[language] = id;
            }

            return id;
        }
    }

    public Track[] Tracks()
    {
        lock (_lock)
        {
            return [.. _tracks.Values.OrderBy(t => t.Description.Kind).ThenByDescending(t => t.Key.Bitrate)];
        }
    }

    /// <summary>The track named <paramref name="name"/> at <paramref name="bitrate"/>, from a URL's characters (no string made).</summary>
    public Track? FindTrack(ReadOnlySpan<char> name, int bitrate)
    {
        lock (_lock)
        {
            foreach (var (key, track) in _tracks)
            {
                if (key.Bitrate == bitrate && name.SequenceEqual(key.Name))
                {
                    return track;
                }
            }

            return null;
        }
    }

    public Track? FindTrack(TrackKey key)
    {
        lock (_lock)
        {
            return _tracks.GetValueOrDefault(key);
        }
    }

    public StreamFeed[] Streams()
    {
        lock (_lock)
        {
            return [.. _streams.Values];
        }
    }

    public StreamArchive[] Archives()
    {
        lock (_lock)
        {
            return [.. _archives];
        }
    }

    /// <summary>Bytes of the point's archive files together (each as written so far), without copying the list.</summary>
    public long ArchiveBytes()
    {
        lock (_lock)
        {
            var bytes = 0L;
            foreach (var archive in _archives)
            {
                bytes += archive.Length;
            }

            return bytes;
        }
    }

    /// <summary>A connection starts feeding <paramref name="streamId"/>; the point goes (back) to live. Null when the stream has its maximum of connections.</summary>
    /// <summary>
    /// An encoder's connection to a stream, counted under the point's lock: the bounds hold however many connect at
    /// once, and a point deleted meanwhile takes none.
    /// </summary>
    /// <exception cref="PointRuleException">503 when the point was deleted or replaced; 429 past a bound.</exception>
    public StreamFeed Connect(string streamId, DateTimeOffset now, int maxConnections = int.MaxValue, int maxStreams = int.MaxValue)
    {
        lock (_lock)
        {
            if (Retired)
            {
                throw new PointRuleException(StatusCodes.Status503ServiceUnavailable, "the point was deleted or replaced meanwhile: connect again");
            }

            if (!_streams.TryGetValue(streamId, out var stream))
            {
                if (_streams.Count >= maxStreams)
                {
                    throw new PointRuleException(StatusCodes.Status429TooManyRequests, $"the point has its maximum of {maxStreams} streams");
                }

                stream = new StreamFeed(streamId);
                _streams[streamId] = stream;
            }
            else if (stream.Connections >= maxConnections)
            {
                throw new PointRuleException(StatusCodes.Status429TooManyRequests, $"stream {PointPath.Truncate(streamId)} has its maximum of {maxConnections} connections");
            }

            stream.Connections++;
            stream.ConnectedSince ??= now;
            _connects++;

            _state = PointState.Live;
            Touch();
            return stream;
        }
    }

    private long _connects;

    /// <summary>How many ingest connections (every PUT of a segmenting encoder is one) the point has taken: a finalisation timed from one end is void once another came.</summary>
    public long Connects
    {
        get
        {
            lock (_lock)
            {
                return _connects;
            }
        }
    }

    /// <summary>A connection ended. True when it was the last one of the point: time to finalise.</summary>
    public bool Disconnect(StreamFeed stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        lock (_lock)
        {
            stream.Connections = Math.Max(0, stream.Connections - 1);
            if (stream.Connections == 0)
            {
                stream.ConnectedSince = null;
                if (stream.Archive is null)
                {
                    _streams.Remove(stream.Id); // a refused push leaves nothing behind
                }
            }

            foreach (var s in _streams.Values)
            {
                if (s.Connections > 0)
                {
                    return false;
                }
            }

            if (_archives.Count == 0)
            {
                _state = PointState.Idle;
            }

            return true;
        }
    }

    /// <summary>
    /// Binds the tracks an encoder announced to the point's tracks, creating what is new. A track key already
    /// fed with different media is a conflict; the same media under the same key is a redundant feed.
    /// </summary>
    public Dictionary<uint, Track> BindTracks(IReadOnlyDictionary<uint, TrackDescription> announced, out string? conflict, int maxTracks = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(announced);
        lock (_lock)
        {
            conflict = null;
            foreach (var description in announced.Values)
            {
                if (_tracks.TryGetValue(description.Key, out var existing) && !existing.Description.SameMediaAs(description))
                {
                    conflict = $"{description.Key} is already fed with different media ({existing.Description.FourCC} {existing.Description.CodecPrivateData})";
                    return [];
                }
            }

            var added = announced.Values.Select(d => d.Key).Distinct().Count(k => !_tracks.ContainsKey(k));
            if (_tracks.Count + added > maxTracks)
            {
                conflict = $"the point has {_tracks.Count} tracks and this header would add {added}; a point may have at most {maxTracks} (PublishingPoint:MaxTracksPerPoint)";
                return [];
            }

            var bound = new Dictionary<uint, Track>();
            foreach (var (trackId, description) in announced)
            {
                if (!_tracks.TryGetValue(description.Key, out var track))
                {
                    track = new Track(description, Numbering, Touch);
                    _tracks[description.Key] = track;
                }

                bound[trackId] = track;
            }

            Touch();
            return bound;
        }
    }

    /// <summary>
    /// The headers of a stream's archive runs together: each stays in memory with its archive for the point's life, so
    /// a stream that changes a large header often would otherwise hold one per run (real ones are a few KB).
    /// </summary>
    public const int MaxHeaderBytesPerStream = 4 * 1024 * 1024;

    /// <summary>
    /// Whether <see cref="UseArchive"/> would take <paramref name="header"/>: asked before its tracks are bound, so a
    /// refused header leaves no tracks behind (each refused one would add its tracks to the point for good).
    /// </summary>
    public bool MayUseArchive(StreamFeed stream, ArchiveHeader header, int maxRuns)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(header);
        lock (_lock)
        {
            return (stream.Archive is { } current && current.Header.SameAs(header))
                || (stream.ArchiveRuns < maxRuns && stream.HeaderBytes + header.Bytes.Length <= MaxHeaderBytesPerStream);
        }
    }

    /// <summary>
    /// Keeps the stream's archive when the header is unchanged, else seals it and starts a new archive file; null when
    /// the stream has started <paramref name="maxRuns"/> files that way (a header that keeps changing is refused), or
    /// their headers would hold over <see cref="MaxHeaderBytesPerStream"/>.
    /// </summary>
    public StreamArchive? UseArchive(StreamFeed stream, ArchiveHeader header, int maxRuns, Func<StreamArchive> create)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(create);
        // The file's creation and the previous one's index (each with an fsync) happen under the stream's own lock, not
        // the point's, which players take for every playlist and segment.
        lock (stream.ArchiveChange)
        {
            lock (_lock)
            {
                if (stream.Archive is { } current && current.Header.SameAs(header))
                {
                    return current;
                }

                if (stream.ArchiveRuns >= maxRuns || stream.HeaderBytes + header.Bytes.Length > MaxHeaderBytesPerStream)
                {
                    return null;
                }
            }

            var archive = create();
            StreamArchive? previous;
            lock (_lock)
            {
                previous = stream.Archive;
                _archives.Add(archive);
                stream.Archive = archive;
                stream.ArchiveRuns++;
                stream.HeaderBytes += header.Bytes.Length;
            }

            previous?.Seal();
            return archive;
        }
    }

    /// <summary>Closes the stream's current archive with its index and continues in a new file (rollover).</summary>
    public StreamArchive RollOver(StreamFeed stream, StreamArchive current, Func<StreamArchive> create)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(create);
        lock (stream.ArchiveChange)
        {
            if (stream.Archive != current)
            {
                return stream.Archive ?? current;
            }

            var next = create();
            lock (_lock)
            {
                _archives.Add(next);
                stream.Archive = next;
            }

            current.Seal();
            return next;
        }
    }

    /// <summary>Archives no stream writes to any more whose media all ended before what <paramref name="beforeSeconds"/> says for each.</summary>
    public StreamArchive[] ArchivesEndedBefore(Func<StreamArchive, double> beforeSeconds)
    {
        ArgumentNullException.ThrowIfNull(beforeSeconds);
        StreamArchive[] finished;
        lock (_lock)
        {
            var inUse = _streams.Values.Select(s => s.Archive).ToHashSet();
            finished = [.. _archives.Where(a => !inUse.Contains(a))];
        }

        return [.. finished.Where(a => a.LastEndSeconds < beforeSeconds(a))];
    }

    /// <summary>
    /// The finished archive file (no stream writes to it, its 'mfra' written) whose media starts first; null when there
    /// is none. A file a rollover has just left is not finished until it is sealed. A file holding a track's newest
    /// fragment is not one either: a track keeps its newest entry (<see cref="Track.RemoveOldest"/>), which would then
    /// point into a file gone (the audio of a file a video keyframe has just rolled over, or every track's once the
    /// last file is finished).
    /// </summary>
    public StreamArchive? OldestFinishedArchive()
    {
        var newest = Tracks().Select(t => t.Last?.Archive).ToHashSet();
        lock (_lock)
        {
            var inUse = _streams.Values.Select(s => s.Archive).ToHashSet();
            return _archives.Where(a => !inUse.Contains(a) && !newest.Contains(a) && a.IsFinalized)
                .MinBy(a => double.IsNaN(a.FirstSeconds) ? double.MinValue : a.FirstSeconds);
        }
    }

    /// <summary>
    /// Takes <paramref name="archive"/> (a file no stream writes to) out of the point: its fragments leave the index,
    /// its handles close. The file itself is the caller's. Returns how many fragments left the index.
    /// </summary>
    /// <remarks>
    /// Redundant encoders interleave one track's fragments over their files, so its tracks lose everything that ends
    /// by the file's end, whichever file holds it: no entry is left pointing into a file gone, and no hole opens
    /// between the ones that stay.
    /// </remarks>
    public int Forget(StreamArchive archive)
    {
        ArgumentNullException.ThrowIfNull(archive);
        var removed = 0;
        foreach (var description in archive.Header.Descriptions.Values)
        {
            if (FindTrack(description.Key) is not { } track)
            {
                continue;
            }

            var end = double.IsNaN(archive.LastEndSeconds) ? long.MinValue : (long)Math.Round(archive.LastEndSeconds * track.Description.Timescale);
            removed += track.RemoveOldest(f => f.Archive == archive || f.End <= end);
        }

        lock (_lock)
        {
            _archives.Remove(archive);
        }

        archive.Dispose();
        Touch();
        return removed;
    }

    public void AddRecoveredArchive(StreamArchive archive)
    {
        lock (_lock)
        {
            _archives.Add(archive);
        }
    }

    /// <summary>
    /// A stream that fed the point before a restart, with its newest file: an encoder of that stream that connects again
    /// continues from it (segment ingest sends its init segment only once, so its next segments need the header).
    /// </summary>
    public void RestoreStream(string streamId, StreamArchive archive)
    {
        lock (_lock)
        {
            if (!_streams.ContainsKey(streamId))
            {
                _streams[streamId] = new StreamFeed(streamId) { Archive = archive };
            }
        }
    }

    /// <summary>Moves to VOD unless an encoder connected meanwhile (or <paramref name="force"/>); the caller writes the indexes.</summary>
    public bool TryMarkVod(bool force = false)
    {
        lock (_lock)
        {
            foreach (var s in _streams.Values)
            {
                if (s.Connections > 0 && !force)
                {
                    return false;
                }
            }

            _state = PointState.Vod;
            Touch();
        }

        // Outside the point's lock: a track signals with its own lock held, and that moves the point's version.
        WakeHeldRequests();
        return true;
    }

    private void WakeHeldRequests()
    {
        foreach (var track in Tracks())
        {
            track.Signal();
        }
    }

    /// <summary>Holds the point's lock while finalising, so a connecting encoder waits for it to finish.</summary>
    public Lock.Scope EnterLock() => _lock.EnterScope();

    /// <summary>No track keeps fragments in memory (see <see cref="Track.LeaveMemory"/>).</summary>
    public void LeaveMemory()
    {
        foreach (var track in Tracks())
        {
            track.LeaveMemory();
        }
    }

    /// <summary>Deleted, or replaced by a restart on reconnect: its folder no longer belongs to it (set under its lock).</summary>
    public bool Retired { get; private set; }

    /// <summary>
    /// Runs <paramref name="write"/> on the point's folder unless the point is retired, under its folder lock (which
    /// retiring takes): a folder that is being deleted or is a new presentation's gets nothing of this one's. False when
    /// retired. Not under the point's own lock, which ingest and players take for every fragment and request: a write
    /// here syncs the disk.
    /// </summary>
    public bool WriteInFolder(Action<string> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        using (_folderLock.EnterScope())
        {
            if (Retired)
            {
                return false;
            }

            write(Directory);
            return true;
        }
    }

    /// <summary>Where the newest media of any track ends, in seconds (0 before any).</summary>
    public double MediaEndSeconds() => Track.EndSeconds(Tracks());

    /// <summary>The lock <see cref="WriteInFolder"/> and retiring take; taken before the point's own lock, never under it.</summary>
    public Lock.Scope EnterFolderLock() => _folderLock.EnterScope();

    public void Dispose() => Retire(onlyIfEmpty: false);

    /// <summary>
    /// Retires the point when it holds nothing and nobody feeds it (a first push that was refused), and says whether
    /// it did: decided under its locks, so an encoder that found the point meanwhile either connected first (and it
    /// stays) or is told by <see cref="Connect"/> to connect again, never left feeding a point the registry dropped.
    /// </summary>
    /// <param name="removed">Run under the point's locks once it is retired (the registry lets it go there, so nobody finds it retired).</param>
    public bool RetireIfEmpty(Action removed) => Retire(onlyIfEmpty: true, removed);

    private bool Retire(bool onlyIfEmpty, Action? removed = null)
    {
        CancellationTokenSource closing;
        using (_folderLock.EnterScope())
        using (EnterLock())
        {
            if (Retired)
            {
                return false; // once: a deleted point is disposed again with the registry
            }

            if (onlyIfEmpty && (_archives.Count > 0 || _state == PointState.Live || CreatedByOperator || Closed || _streams.Values.Any(x => x.Connections > 0)))
            {
                return false;
            }

            Retired = true;
            closing = _closing;
            removed?.Invoke();
        }

        closing.Cancel(); // ingests that took the token before it was retired stop too
        LeaveMemory();
        foreach (var archive in Archives())
        {
            archive.Dispose();
        }

        WakeHeldRequests();
        _closing.Dispose();
        return true;
    }
}

/// <summary>What became of an event offered to a point.</summary>
public enum EventAdded
{
    Added,
    Duplicate,

    /// <summary>Over the point's events a second: the first of a run of refusals (worth a log line), then the rest.</summary>
    FirstRefused,
    Refused,
}
