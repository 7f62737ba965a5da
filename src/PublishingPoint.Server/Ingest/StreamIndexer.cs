using PublishingPoint.Media.Timing;
using PublishingPoint.Media.Scte35;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Smooth;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// One stream connection's media into its point, whatever the framing it came in: the header ('moov' and what came
/// before it) names the tracks and opens the archive; each fragment is split per track, parsed once (its sample
/// table, on the track's timeline), archived, and indexed, or, as low-latency chunks, gathered into a fragment
/// while each chunk is servable at once as a part.
/// </summary>
internal sealed partial class StreamIndexer(PointRegistry registry, Point point, StreamFeed feed, IngestMemoryAccount memory, IngestMetrics metrics, ILogger logger)
{
    // A run of low-latency chunks without a keyframe is indexed as it stands past this much media (a pathological GOP).
    internal const int MaxPendingSeconds = 20;
    // One chunk per frame at 60 fps for 20 s is 1,200.
    private const int MaxPendingParts = 2048;

    private const long MaxTimeSeconds = 100L * 366 * 24 * 3600; // a century of timeline
    private static readonly Dictionary<uint, Track> _noTracks = [];

    private Dictionary<uint, Track> _tracks = _noTracks;
    private Dictionary<uint, SampleDefaults> _defaults = [];
    private Dictionary<uint, uint> _timescales = [];
    private StreamArchive? _archive;
    private bool _deferSync;
    private readonly List<StreamArchive> _unsynced = [];
    private readonly HashSet<StreamArchive> _reportedCuts = [];
    private readonly Dictionary<Track, PendingRun> _pending = [];

    public long Accepted { get; private set; }

    public long Duplicates { get; private set; }

    /// <summary>The stream has a header: from this connection or an earlier one of the same stream.</summary>
    public bool HasHeader => _archive is not null || feed.Archive is not null;

    /// <summary>The encoder's last 'prft': its wall clock of a media time, the point's timeline anchor when it has none.</summary>
    public PrftBox? Prft { get; set; }

    private readonly List<EmsgBox> _relativeEvents = [];
    private long _relativeEventBytes;
    private const long MaxWaitingEventBytes = 1024 * 1024;
    private bool _waitingEventSkipLogged;

    private bool _outOfRangeLogged;
    private (string Tracks, string Archive)? _loggedHeader;

    /// <summary>
    /// An 'emsg' of the stream: version 1 has its own time on the track timeline; version 0 is timed from the segment
    /// that follows it, so it waits for that segment's first fragment.
    /// </summary>
    public void Event(EmsgBox emsg)
    {
        ArgumentNullException.ThrowIfNull(emsg);
        if (emsg.Timescale == 0)
        {
            return;
        }

        if (Math.Abs((double)emsg.PresentationTime / emsg.Timescale) > MaxTimeSeconds)
        {
            // Its time in 100 ns ticks would not fit (a 500 once); the media it rides with is not refused for it. Logged
            // once a connection: an encoder that sends one sends them all.
            if (!_outOfRangeLogged)
            {
                _outOfRangeLogged = true;
                IngestLog.EventOutOfRange(logger, point.Path.Value, TimedEvent.Printable(emsg.SchemeIdUri), emsg.Id, emsg.PresentationTime, emsg.Timescale);
            }

            return;
        }

        if (emsg.Version == 1)
        {
            AddEvent(emsg, Timescale.Rescale(emsg.PresentationTime, emsg.Timescale, TimeSpan.TicksPerSecond));
        }
        else if (_relativeEvents.Count < 64 && _relativeEventBytes + WaitingBytes(emsg) <= Math.Min(MaxWaitingEventBytes, memory.Limit / 8) && memory.TryReserve(WaitingBytes(emsg)))
        {
            // Held on the connection's account until the segment it is timed from arrives; a small share of it, so the
            // fragment that places them still fits.
            _relativeEvents.Add(emsg);
            _relativeEventBytes += WaitingBytes(emsg);
        }
        else if (!_waitingEventSkipLogged)
        {
            _waitingEventSkipLogged = true;
            IngestLog.WaitingEventSkipped(logger, point.Path.Value, TimedEvent.Printable(emsg.SchemeIdUri), emsg.Id);
        }
    }

    private static long WaitingBytes(EmsgBox emsg) => emsg.MessageData.Length + (2L * (emsg.SchemeIdUri.Length + emsg.Value.Length)) + 64;

    private void PlaceRelativeEvents(List<TrackFragment> trafs)
    {
        // the first track fragment of a track the point serves (one the server leaves out is dropped)
        var first = trafs.FindIndex(t => _tracks.ContainsKey(t.TrackId));
        if (_relativeEvents.Count == 0 || first < 0 || !_tracks.TryGetValue(trafs[first].TrackId, out var track))
        {
            return;
        }

        var time = FragmentTiming.Time(trafs[first], track.Last?.End);
        var start = Timescale.Rescale(time, track.Description.Timescale, TimeSpan.TicksPerSecond);
        foreach (var emsg in _relativeEvents)
        {
            AddEvent(emsg, start + Timescale.Rescale(emsg.PresentationTime, emsg.Timescale, TimeSpan.TicksPerSecond));
        }

        _relativeEvents.Clear();
        memory.Release(_relativeEventBytes);
        _relativeEventBytes = 0;
    }

    private void AddEvent(EmsgBox emsg, long startTicks)
    {
        var duration = emsg.EventDuration == EmsgBox.UnknownDuration ? (long?)null : Timescale.Rescale(emsg.EventDuration, emsg.Timescale, TimeSpan.TicksPerSecond);
        AddEvent(emsg.SchemeIdUri, emsg.Value, emsg.Id, startTicks, duration, emsg.MessageData);
    }

    /// <summary>A SCTE-35 splice_info_section of MPEG-TS ingest, at its splice time (media ticks): the same event an 'emsg' would carry.</summary>
    public void Cue(byte[] section, long startTicks)
    {
        var info = SpliceInfo.TryRead(section, out var read) ? read : new SpliceInfo(SpliceKind.Command, null, null);
        var duration = info.BreakDuration90k is { } d ? Timescale.Rescale(d, Timescale.MpegTs, TimeSpan.TicksPerSecond) : (long?)null;
        AddEvent(TimedEvent.Scte35Scheme, string.Empty, info.EventId ?? 0, startTicks, duration, section);
    }

    private void AddEvent(string scheme, string value, uint id, long startTicks, long? duration, byte[] message)
    {
        var added = point.AddEvent(TimedEvent.Create(scheme, value, id, startTicks, duration, message), registry.Time.GetUtcNow());
        if (added == EventAdded.FirstRefused)
        {
            IngestLog.EventsTooFast(logger, point.Path.Value, TimedEvent.Printable(scheme));
        }

        if (added == EventAdded.Added)
        {
            IngestLog.Event(logger, point.Path.Value, TimedEvent.Printable(scheme), id, startTicks / (double)TimeSpan.TicksPerSecond);
            try
            {
                point.SaveEvents();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                IngestLog.EventsNotSaved(logger, e, point.Path.Value);
            }
        }
    }

    /// <summary>When the fragment being handed over was read off the request (for the part-available figure).</summary>
    public long ReceivedAt { get; set; }

    /// <summary>Indexes what is still being gathered (a segment boundary, or the end of the body).</summary>
    public void FlushAll()
    {
        Exception? failed = null;
        foreach (var (track, pending) in _pending.ToArray())
        {
            try
            {
                Flush(track, pending);
            }
            catch (Exception e) when (e is PointRuleException or IOException or InvalidBoxException)
            {
                failed ??= e; // the other tracks' runs are still indexed (and their memory given back)
            }
        }

        if (failed is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
        }
    }

    /// <summary>
    /// The end of the connection: complete fragments still being gathered were received whole and are kept. After a
    /// body that ended normally a failure to keep them is the request's (thrown: its answer must not say they are
    /// safe); after a body that failed it is only logged.
    /// </summary>
    public void Finish(bool bodyComplete)
    {
        try
        {
            FlushAll();
        }
        catch (Exception e) when (!bodyComplete && e is PointRuleException or IOException or InvalidBoxException)
        {
            IngestLog.FlushFailed(logger, e, point.Path.Value, feed.Id);
        }
    }

    /// <param name="prologue">The boxes before the 'moov' that belong in the archive's header: an 'ftyp', an ISML manifest.</param>
    public void Header(IReadOnlyList<byte[]> prologue, ServerManifestTrack[] manifest, byte[] moov)
    {
        List<TrackInfo> infos;
        try
        {
            infos = MovieReader.Read(moov);
        }
        catch (InvalidBoxException e)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"bad 'moov': {e.Message}");
        }

        if (infos.Count > registry.Options.MaxTracksPerStream)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"the 'moov' announces {infos.Count} tracks; a stream may have at most {registry.Options.MaxTracksPerStream}");
        }

        var header = new ArchiveHeader
        {
            Bytes = Concat([.. prologue, moov]),
            Moov = moov,
            Tracks = infos,
            Manifest = manifest,
        };
        var descriptions = StreamTracks.Resolve(header, feed.Id);
        header = header with { Descriptions = descriptions };
        if (!point.MayUseArchive(feed, header, registry.Options.MaxArchiveRunsPerStream))
        {
            throw TooManyHeaders();
        }

        var bound = point.BindTracks(descriptions, out var conflict, registry.Options.MaxTracksPerPoint);
        if (conflict is not null)
        {
            throw new PointRuleException(StatusCodes.Status409Conflict, conflict);
        }

        _tracks = bound;
        _defaults = infos.ToDictionary(i => i.TrackId, i => i.Defaults);
        _timescales = infos.ToDictionary(i => i.TrackId, i => i.Timescale);
        _archive = point.UseArchive(feed, header, registry.Options.MaxArchiveRunsPerStream, () => StreamArchive.Create(ArchiveNames.Next(point.Directory, feed.Id), header, registry.Options.FsyncArchive, registry.ArchiveFiles))
            ?? throw TooManyHeaders();
        if (logger.IsEnabled(LogLevel.Information))
        {
            // A header sent again as it was (an encoder may repeat its 'moov') is not a new line each time.
            var names = string.Join(", ", descriptions.Values.Select(d => d.Key));
            if (_loggedHeader != (names, _archive.FileName))
            {
                _loggedHeader = (names, _archive.FileName);
                IngestLog.Header(logger, point.Path.Value, feed.Id, names, _archive.FileName);
            }
        }

        if (_leftOutLoggedFor != _archive.FileName)
        {
            _leftOutLoggedFor = _archive.FileName;
            foreach (var audio in infos.Where(i => i.Kind == TrackKind.Audio && !descriptions.ContainsKey(i.TrackId)))
            {
                IngestLog.AudioLeftOut(logger, point.Path.Value, feed.Id, audio.TrackId, TrackResolver.WhyAudioIsLeftOut(audio) ?? "not served");
            }
        }
    }

    private string? _leftOutLoggedFor;

    private PointRuleException TooManyHeaders() => new(StatusCodes.Status429TooManyRequests,
        $"stream {feed.Id} has started {registry.Options.MaxArchiveRunsPerStream} archive files with a changed header, or their headers hold over {Point.MaxHeaderBytesPerStream} bytes together; a new header is refused");

    /// <summary>One moof+mdat as received (one track or several); the index takes a reference of its own to keep it.</summary>
    public void Fragment(FragmentBuffer fragment, int moofLength)
    {
        var archive = _archive ?? AdoptStreamHeader()
            ?? throw new PointRuleException(StatusCodes.Status400BadRequest, "fragment before the 'moov' (send ftyp+moov first, on this or an earlier POST of the stream)");
        var trafs = ReadTrafs(fragment.Span[..moofLength]);
        RefuseOutOfProportion(trafs);
        PlaceRelativeEvents(trafs);
        if (trafs.Count == 1)
        {
            var traf = trafs[0];
            if (!traf.HasExplicitBaseOffset && (traf.DataOffset < moofLength || traf.DataOffset > fragment.Length - traf.DataSize))
            {
                throw new PointRuleException(StatusCodes.Status400BadRequest, $"bad 'moof': track {traf.TrackId} samples lie outside its 'mdat'");
            }

            Collect(archive, fragment, traf);
            return;
        }

        List<byte[]> pieces;
        try
        {
            pieces = FragmentSplitter.Split(fragment.Span, moofLength, trafs);
        }
        catch (InvalidBoxException e)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"bad multi-track fragment: {e.Message}");
        }

        foreach (var piece in pieces)
        {
            BoxHeader.TryRead(piece, out var moof);
            Collect(archive, FragmentBuffer.Wrap(piece), ReadTrafs(piece.AsSpan(0, (int)moof.Size))[0]);
        }
    }

    // What a fragment makes (track fragments split out, sample tables) must stay in proportion to the bytes sent: a
    // sample that takes no bytes costs nothing to announce and a table entry to hold.
    private void RefuseOutOfProportion(List<TrackFragment> trafs)
    {
        if (trafs.Count > _defaults.Count)
        {
            // the tracks the 'moov' declares (at most MaxTracksPerStream), those the server leaves out included
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"bad 'moof': {trafs.Count} track fragments for a stream of {_defaults.Count} tracks");
        }

        foreach (var traf in trafs)
        {
            if (traf.SampleCount > traf.DataSize)
            {
                throw new PointRuleException(StatusCodes.Status400BadRequest,
                    $"bad 'moof': track {traf.TrackId} announces {traf.SampleCount} samples in {traf.DataSize} bytes (a sample takes at least one)");
            }
        }
    }

    private List<TrackFragment> ReadTrafs(ReadOnlySpan<byte> moof)
    {
        try
        {
            return MovieFragmentReader.Read(moof, id => _defaults.GetValueOrDefault(id));
        }
        catch (InvalidBoxException e)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"bad 'moof': {e.Message}");
        }
    }

    /// <summary>A POST that carries only segments continues the stream's header from an earlier POST (DASH-IF ingest, one POST per segment).</summary>
    private StreamArchive? AdoptStreamHeader()
    {
        if (feed.Archive is not { } archive)
        {
            return null;
        }

        _tracks = point.BindTracks(archive.Header.Descriptions, out var conflict, registry.Options.MaxTracksPerPoint);
        if (conflict is not null)
        {
            throw new PointRuleException(StatusCodes.Status409Conflict, conflict);
        }

        _defaults = archive.Header.Tracks.ToDictionary(i => i.TrackId, i => i.Defaults);
        _timescales = archive.Header.Tracks.ToDictionary(i => i.TrackId, i => i.Timescale);
        _archive = archive;
        return archive;
    }

    /// <summary>
    /// Fragments of a second or more are indexed as they come. Shorter ones (low-latency chunks, or the fragments of
    /// very short GOPs) are gathered per track and indexed as one fragment: video up to the first keyframe after about
    /// a second, audio up to a second, and everything at a segment boundary ('styp') or the end of the body.
    /// </summary>
    private void Collect(StreamArchive archive, FragmentBuffer fragment, TrackFragment traf)
    {
        if (!_tracks.TryGetValue(traf.TrackId, out var track))
        {
            if (_defaults.ContainsKey(traf.TrackId))
            {
                return; // a track the 'moov' declares that the server leaves out (neither audio nor video, or not AAC)
            }

            throw new PointRuleException(StatusCodes.Status400BadRequest, $"fragment for track {traf.TrackId}, which the 'moov' does not declare");
        }

        if (traf.TfxdTime is null && traf.DecodeTime is null)
        {
            // Its time would only be "after the previous one", which a restart reads from this file alone: after a
            // rollover every file would start at 0 and all but one would be dropped from the index.
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"fragment for track {traf.TrackId} has neither 'tfdt' nor 'tfxd': its time is unknown");
        }

        var isVideo = track.Description.Kind == TrackKind.Video;
        var pending = _pending.GetValueOrDefault(track);
        var time = FragmentTiming.Time(traf, pending?.End ?? track.Last?.End);
        var duration = FragmentTiming.Duration(traf);
        var timescale = (long)track.Description.Timescale;
        if (duration < 0 || time / timescale is > MaxTimeSeconds or < -MaxTimeSeconds || duration / timescale > MaxTimeSeconds)
        {
            // Every output rescales times (to 10 MHz for Smooth, 90 kHz for HLS): keep them where that cannot overflow.
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"fragment time {time} or duration {duration} (timescale {timescale}) is out of range");
        }

        RefuseFarAhead(time, duration, timescale);
        RefuseFarBehind(time, pending?.End ?? track.Last?.End, timescale);

        // Chunk durations are often estimates for the last sample: only a real jump in time (over 100 ms) breaks a run.
        var second = (long)track.Description.Timescale;
        // A keyframe starts a segment once the run before it lasts about a second (nine tenths: a GOP of exactly a second
        // whose chunk durations are estimated a little short still makes its own segment): a stream of very short GOPs
        // (every frame a keyframe, say) still makes segments a player can use, not one a frame, each a line every
        // playlist lists.
        var segmentStarts = isVideo && traf.FirstSampleIsSync && (pending is null || pending.End - pending.Time >= second - (second / 10));
        // A low-latency chunk: the segments it completes are indexed before it becomes a part, and their fsync waits
        // until it is one, so a player gets the new segment's first part without waiting for the disk (the fsync
        // follows before the next chunk is read). Any other fragment is fsynced before it is indexed.
        _deferSync = duration < second;
        try
        {
            if (pending is not null && (segmentStarts || Math.Abs(time - pending.End) > Math.Max(duration, second / 10)))
            {
                Flush(track, pending);
                pending = null;
            }

            if (segmentStarts)
            {
                // The stream's other tracks (its audio) end their segment where the picture's does, so renditions align.
                foreach (var (other, run) in _pending.Where(p => p.Key.Description.Kind != TrackKind.Video).ToArray())
                {
                    Flush(other, run);
                }
            }

            CollectPart(archive, fragment, traf, track, pending, time, duration);
        }
        finally
        {
            SyncDeferred();
        }
    }

    private void CollectPart(StreamArchive archive, FragmentBuffer fragment, TrackFragment traf, Track track, PendingRun? pending, long time, long duration)
    {
        var isVideo = track.Description.Kind == TrackKind.Video;
        var second = (long)track.Description.Timescale;

        if (pending is null)
        {
            if (duration >= second)
            {
                Index(archive, track, fragment, traf);
                return;
            }

            pending = new PendingRun(archive, time);
            _pending[track] = pending;
        }

        // (A run ends before this chunk would take it past MaxPendingSeconds: recovery takes a longer fragment for damage.)
        if (pending.Parts.Count > 0 && (pending.Bytes + fragment.Length > registry.Options.MaxBoxBytes || Math.Max(pending.End, time + duration) - pending.Time > MaxPendingSeconds * second
            || pending.Parts.Count >= MaxPendingParts || pending.SampleCount + traf.SampleCount > TrackRunReader.MaxSamples))
        {
            // No keyframe for too long (or a flood of tiny chunks, each a part every playlist lists): index what was
            // gathered rather than hold more.
            Flush(track, pending);
            pending = new PendingRun(archive, time);
            _pending[track] = pending;
        }

        // A chunk is kept as a part until its run is indexed: an array of its own, not the receiving buffer.
        var bytes = fragment.ToExactArray();
        var samples = SamplesOf(bytes, traf, time);
        memory.Reserve(PendingRun.ReservedFor(bytes.Length, samples.Length));
        pending.Add(new FragmentPart(bytes, traf), duration, samples);
        // Servable at once as an LL-HLS part of the segment being built (unless another feed already gave this time, or
        // is giving this segment's parts).
        if (!pending.PartsRefused && track.IsNew(time))
        {
            Anchor(track, time + duration);
            if (track.TryAddPart(new PartEntry(time, duration, traf, samples, bytes), this)) // moves the point's version: playlists list the part from now on
            {
                metrics.PartAvailable(System.Diagnostics.Stopwatch.GetElapsedTime(ReceivedAt));
            }
            else
            {
                pending.PartsRefused = true; // its later chunks would be parts without the start of their segment
            }
        }

        if (!isVideo && !_tracks.Values.Any(t => t.Description.Kind == TrackKind.Video) && pending.End - pending.Time >= second)
        {
            Flush(track, pending);
        }
    }

    /// <summary>
    /// Fixes the point's wall clock of media time 0 once: from the encoder's 'prft' when it sent one, else as the arrival
    /// of media up to <paramref name="end"/> now (a live encoder sends its media as it captures it).
    /// </summary>
    private void Anchor(Track track, long end)
    {
        if (point.TimelineAnchor is not null)
        {
            return;
        }

        // A 'prft' media time is a 64-bit field: one out of the timeline's range (read negative, or centuries long) would put
        // the anchor where adding a media time overflows, and every dated answer of the point would fail. Ignored then.
        // The reference track's timescale as its 'moov' declares it: a track the server leaves out may be the reference.
        if (Prft is { } prft && _timescales.TryGetValue(prft.ReferenceTrackId, out var scale)
            && prft.MediaTime >= 0 && prft.MediaTime / scale <= MaxTimeSeconds)
        {
            point.AnchorTimeline(prft.WallClock, (double)prft.MediaTime / scale);
            return;
        }

        point.AnchorTimeline(registry.Time.GetUtcNow(), (double)end / track.Description.Timescale);
    }

    private FragmentSample[] SamplesOf(ReadOnlySpan<byte> fragment, TrackFragment traf, long time)
    {
        try
        {
            return FragmentTiming.Samples(fragment, fragment.Length, traf, _defaults.GetValueOrDefault(traf.TrackId), time);
        }
        catch (InvalidBoxException e)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"bad 'moof': {e.Message}");
        }
    }

    // A fragment lasting longer than the lead would push the edge as far ahead as one starting there: every real fragment
    // after it would be a duplicate until then (a month's duration, a month).
    private void RefuseFarAhead(long time, long duration, long timescale)
    {
        var lead = registry.Options.MaxFragmentLeadSeconds;
        if ((double)duration / timescale > lead)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest,
                $"fragment at {(double)time / timescale:0.###} s lasts {(double)duration / timescale:0.###} s, more than {lead} s (PublishingPoint:MaxFragmentLeadSeconds): refused");
        }

        if (point.ExpectedEdgeSeconds(registry.Time.GetUtcNow()) is { } edge && (double)time / timescale > edge + lead)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest,
                $"fragment at {(double)time / timescale:0.###} s starts more than {lead} s ahead of the live edge ({edge:0.###} s): refused");
        }
    }

    // One point (one holder of its secret) must not take the disk from the others: they would all get 507 at MinFreeDiskBytes.
    private void RefuseOverPointDiskBound(long bytes)
    {
        var bound = registry.Options.MaxPointDiskBytes;
        if (bound > 0 && point.ArchiveBytes() + bytes > bound)
        {
            throw new PointRuleException(StatusCodes.Status507InsufficientStorage,
                $"the point holds its maximum of {bound} archive bytes (PublishingPoint:MaxPointDiskBytes): fragments are refused; keep less (archiveLengthSeconds) or delete the point");
        }
    }

    // An encoder restarted on its own clock (ffmpeg starts at 0) against a point that goes on: every fragment would be
    // a duplicate, dropped while the encoder is answered 200, for as long as the point's media ran before. A replay of
    // the last fragments (a reconnect) is well within the bound and still dropped quietly.
    private void RefuseFarBehind(long time, long? newestEnd, long timescale)
    {
        var bound = registry.Options.MaxFragmentLeadSeconds;
        if (newestEnd is { } end && (double)(end - time) / timescale > bound)
        {
            throw new PointRuleException(StatusCodes.Status409Conflict,
                $"fragment at {(double)time / timescale:0.###} s is more than {bound} s behind the track's newest media ({(double)end / timescale:0.###} s; PublishingPoint:MaxFragmentLeadSeconds): " +
                "the encoder's timeline went back (restarted?). Continue its timeline, push to another point, or end this one (a point with restartOnReconnect starts a new presentation)");
        }
    }

    private void Flush(Track track, PendingRun pending)
    {
        _pending.Remove(track);
        try
        {
            var layout = pending.Parts.Select(p => new PartLayout(p.Traf.SampleCount, FragmentTiming.Duration(p.Traf), p.Traf.FirstSampleIsSync)).ToArray();
            if (pending.Parts.Count == 1)
            {
                Index(pending.Archive, track, FragmentBuffer.Wrap(pending.Parts[0].Bytes), pending.Parts[0].Traf, pending.Samples[0], layout);
                return;
            }

            // One fragment of every chunk; its samples are the chunks' own, moved to where the merge put their bytes.
            var merged = FragmentMerger.Merge(pending.Parts, pending.Time, out var traf);
            Index(pending.Archive, track, FragmentBuffer.Wrap(merged), traf, pending.MergedSamples(traf.DataOffset), layout);
        }
        catch
        {
            // Refused (disk full, a bound, a bad chunk): its parts would stay listed for a segment that never comes.
            track.DropOpenParts(this);
            throw;
        }
        finally
        {
            memory.Release(pending.Reserved);
        }
    }

    /// <summary>
    /// The stream's archive now (another connection of the stream may have rolled it over), while it has this
    /// connection's header: after another connection sent a different one, this connection's fragments would be read
    /// back as that header's media.
    /// </summary>
    private StreamArchive StreamsArchive(StreamArchive archive)
    {
        if (feed.Archive is not { } current)
        {
            return archive;
        }

        if (_archive is { } own && current != own)
        {
            if (!current.Header.SameAs(own.Header))
            {
                throw new PointRuleException(StatusCodes.Status409Conflict,
                    $"another connection on stream {feed.Id} sent a header for other media; this connection's fragments are refused (one encoder's media per stream id)");
            }

            _archive = current; // the same media (a rollover, or a redundant encoder's header): compared once
        }

        return current;
    }

    /// <param name="samples">The fragment's samples when already known (gathered chunks); parsed here otherwise.</param>
    private void Index(StreamArchive archive, Track track, FragmentBuffer fragment, TrackFragment traf, FragmentSample[]? samples = null, PartLayout[]? parts = null)
    {
        var rolled = false;
        long time, duration;
        lock (track.WriteLock)
        {
            var last = track.Last;
            time = FragmentTiming.Time(traf, last?.End);
            duration = FragmentTiming.Duration(traf);
            if (!track.IsNew(time))
            {
                Duplicates++;
                IngestLog.Duplicate(logger, point.Path.Value, feed.Id, track.Key, time);
                return;
            }

            samples ??= SamplesOf(fragment.Span, traf, time); // refused before anything reaches the archive
            if (registry.DiskLow())
            {
                throw new PointRuleException(StatusCodes.Status507InsufficientStorage,
                    $"the data folder's disk has less than {registry.Options.MinFreeDiskBytes} bytes free (PublishingPoint:MinFreeDiskBytes): fragments are refused until there is room");
            }

            RefuseOverPointDiskBound(fragment.Length);

            var scale = (double)track.Description.Timescale;
            archive = StreamsArchive(archive);
            if (RollsOver(track, traf, time, archive))
            {
                var full = archive;
                archive = point.RollOver(feed, full, () => StreamArchive.Create(ArchiveNames.Next(point.Directory, feed.Id), full.Header, registry.Options.FsyncArchive, registry.ArchiveFiles));
                _archive = archive;
                rolled = archive != full;
            }

            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var recovered = archive.RecoveredSyncs;
            var offset = Append(archive, fragment.Span, traf.TrackId, time);
            archive.NoteParts(parts?.Length ?? 0);
            NoteRecovered(archive, recovered);
            if (_deferSync && !_unsynced.Contains(archive))
            {
                _unsynced.Add(archive);
            }

            metrics.ArchiveWrite(System.Diagnostics.Stopwatch.GetElapsedTime(started));
            archive.Observe(time / scale, (time + duration) / scale);
            var entry = new FragmentEntry(time, duration, traf, samples, archive, offset, fragment.Length, fragment, point.KeptBytes)
            {
                Discontinuity = last is not null && time > last.End + (last.Duration / 2),
                Parts = parts,
            };
            AddToIndex(track, entry, fragment.Span, samples);
        }

        if (rolled)
        {
            registry.Prune(point);
            registry.TrimIndex();
        }

        Accepted++;
        var now = registry.Time.GetUtcNow();
        point.AdvanceEdge((double)(time + duration) / track.Description.Timescale, now);
        Anchor(track, time + duration);

        feed.Count(fragment.Length, now);
        metrics.Ingested(point, track.Key, fragment.Length);
        point.Touch();
    }

    // The entry joins its track (keeping its bytes while in the memory window), within the bound on bytes kept.
    private void AddToIndex(Track track, FragmentEntry entry, ReadOnlySpan<byte> fragment, FragmentSample[] samples)
    {
        var inMemory = (long)Math.Min(point.DvrWindowSeconds(registry.Options.DvrWindowSeconds), registry.Options.MemoryWindowSeconds) * track.Description.Timescale;
        try
        {
            track.ObserveCaptions(fragment, samples);
            if (track.Append(entry, inMemory, this) == AppendResult.Duplicate)
            {
                entry.Evict();
            }
        }
        catch
        {
            entry.Evict(); // not indexed: its bytes are counted until released
            throw;
        }

        registry.FragmentMemory.Bound(point, registry);
    }

    private long Append(StreamArchive archive, ReadOnlySpan<byte> fragment, uint trackId, long time)
    {
        try
        {
            return archive.Append(fragment, trackId, time, sync: !_deferSync);
        }
        catch (IOException)
        {
            ReportLost(archive);
            throw;
        }
    }

    // A cut archive lost the fragments past its last good fsync; those the index listed before it are marked by the cut
    // (FragmentEntry.Lost): counted and logged here, once per file.
    private void ReportLost(StreamArchive archive)
    {
        if (!archive.WasCut || !_reportedCuts.Add(archive))
        {
            return;
        }

        var lost = point.Tracks().Sum(track => track.Snapshot().Count(f => f.Archive == archive && f.Lost));
        if (lost > 0)
        {
            point.NoteLost(lost);
            IngestLog.FragmentsLost(logger, point.Path.Value, feed.Id, archive.FileName, lost);
        }
    }

    private void SyncDeferred()
    {
        _deferSync = false;
        IOException? failed = null;
        foreach (var archive in _unsynced)
        {
            // Every archive is synced, even after one failed: the others' fragments are listed already.
            try
            {
                var recovered = archive.RecoveredSyncs;
                archive.Sync();
                NoteRecovered(archive, recovered);
            }
            catch (IOException e)
            {
                failed ??= e;
                ReportLost(archive);
            }
        }

        _unsynced.Clear();
        if (failed is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
        }
    }

    private void NoteRecovered(StreamArchive archive, long before)
    {
        if (archive.RecoveredSyncs != before)
        {
            IngestLog.SyncRecovered(logger, point.Path.Value, feed.Id, archive.FileName);
        }
    }

    /// <summary>
    /// Whether the stream's file rolls over before this fragment: on a keyframe of the rollover track, every
    /// ArchiveSegmentSeconds of media or once the file holds ArchiveFileMaxFragments fragments of one track (its
    /// low-latency parts counted with them by what they add to the index: a fragment may be gathered from thousands of
    /// tiny chunks); at twice that on any fragment, so a stream without keyframes cannot grow one file (and its index)
    /// without end; at once when a failed fsync cut the file (<see cref="StreamArchive.WasCut"/>).
    /// </summary>
    private bool RollsOver(Track track, TrackFragment traf, long time, StreamArchive archive)
    {
        var most = archive.MostFragmentsOfATrack + (archive.PartsIndexed * IndexBudget.PartBytes / IndexBudget.EntryBytes);
        var max = registry.Options.ArchiveFileMaxFragments;
        if (most >= 2L * max || archive.WasCut)
        {
            return true;
        }

        // Whether a rollover is due first: finding the rollover track sorts the stream's tracks.
        var segment = registry.ArchiveSegmentSeconds(point);
        var due = most >= max || (segment > 0 && (double)time / track.Description.Timescale - archive.FirstSeconds >= segment);
        return due && traf.FirstSampleIsSync && IsRolloverTrack(track);
    }

    /// <summary>Rollover happens on a keyframe of the stream's first video track (or its first track without video).</summary>
    private bool IsRolloverTrack(Track track)
    {
        Track? first = null;
        foreach (var (_, candidate) in _tracks.OrderBy(t => t.Key))
        {
            if (candidate.Description.Kind == TrackKind.Video)
            {
                return candidate == track;
            }

            first ??= candidate;
        }

        return first == track;
    }

    private static byte[] Concat(List<byte[]> boxes)
    {
        var output = new byte[boxes.Sum(b => b.Length)];
        var at = 0;
        foreach (var box in boxes)
        {
            box.CopyTo(output, at);
            at += box.Length;
        }

        return output;
    }
}
