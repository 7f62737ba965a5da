using System.IO.Pipelines;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Smooth;
using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// One encoder connection pushing fragmented MP4 (Smooth 'isml', PIFF or CMAF): header boxes, then
/// moof+mdat pairs that are archived and indexed one by one as they complete, and 'mfra' at the end.
/// </summary>
internal sealed class Fmp4IngestSession(PointRegistry registry, Point point, StreamFeed feed, IngestMemoryAccount memory, IngestMetrics metrics, ILogger logger) : IIngestSession
{
    // A run of low-latency chunks without a keyframe is indexed as it stands past this much media (a pathological GOP).
    private const int MaxPendingSeconds = 20;

    private const int MaxHeaderBoxBytes = 4 * 1024 * 1024;
    private const long MaxTimeSeconds = 100L * 366 * 24 * 3600; // a century of timeline
    private static readonly TimeSpan _headerWait = TimeSpan.FromSeconds(5);
    private static readonly Dictionary<uint, Track> _noTracks = [];

    // The boxes before the 'moov' that belong in the archive's header: at most an 'ftyp' and one ISML manifest.
    private readonly List<byte[]> _prologue = [];
    private ServerManifestTrack[] _manifest = [];
    private Dictionary<uint, Track> _tracks = _noTracks;
    private Dictionary<uint, SampleDefaults> _defaults = [];
    private StreamArchive? _archive;
    private readonly Dictionary<Track, PendingRun> _pending = [];
    private byte[]? _pendingMoof;
    private PrftBox? _prft;
    private long _receivedAt;
    private bool _deferSync;
    private readonly List<StreamArchive> _unsynced = [];

    public long Accepted { get; private set; }

    public long Duplicates { get; private set; }

    public bool SawEnd { get; private set; }

    public async Task RunAsync(PipeReader body, CancellationToken cancellationToken)
    {
        try
        {
            await ReadBoxesAsync(body, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Complete fragments still being gathered were received whole: keep them whatever ended the body.
            try
            {
                FlushAll();
            }
            catch (Exception e) when (e is PointRuleException or IOException or InvalidBoxException)
            {
                IngestLog.FlushFailed(logger, e, point.Path.Value, feed.Id);
            }
        }
    }

    private async Task ReadBoxesAsync(PipeReader body, CancellationToken cancellationToken)
    {
        var framer = new BoxFramer(body, registry.Options.MaxBoxBytes, memory);
        while (await framer.PeekAsync(cancellationToken).ConfigureAwait(false) is { } header)
        {
            var type = header.Type;
            if (type == BoxTypes.Moof)
            {
                await OnMoofAsync(framer, header, cancellationToken).ConfigureAwait(false);
            }
            else if (type == BoxTypes.Mdat)
            {
                await OnMdatAsync(framer, header, cancellationToken).ConfigureAwait(false);
            }
            else if (type == BoxTypes.Ftyp || type == BoxTypes.Moov || type == BoxTypes.Uuid && header.UserType == BoxTypes.IsmlManifest
                || (type == FourCC.From("prft") && header.Size <= 64))
            {
                await OnHeaderBoxAsync(framer, header, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // sidx, free, skip, emsg and anything unknown: not needed to index or serve.
                await framer.SkipAsync(header, cancellationToken).ConfigureAwait(false);
                if (type == BoxTypes.Styp)
                {
                    FlushAll(); // a segment boundary: what was gathered of the previous segment is complete
                }
                else if (type == BoxTypes.Mfra)
                {
                    SawEnd = true;
                }
            }
        }

        if (_pendingMoof is not null)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, "body ends after a 'moof' without its 'mdat': the partial fragment is discarded");
        }
    }

    private async Task OnMoofAsync(BoxFramer framer, BoxHeader header, CancellationToken cancellationToken)
    {
        if (_archive is null && feed.Archive is null && feed.Connections > 1)
        {
            // Another request of this stream is still delivering the initialization: wait for it briefly.
            try
            {
                await feed.HeaderReady.WaitAsync(_headerWait, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // No initialization came: the fragment is refused below with a clear message.
            }
        }

        memory.Release(_pendingMoof?.Length ?? 0);
        _pendingMoof = await framer.ReadBoxAsync(header, null, cancellationToken).ConfigureAwait(false);
    }

    private async Task OnMdatAsync(BoxFramer framer, BoxHeader header, CancellationToken cancellationToken)
    {
        var moof = _pendingMoof ?? throw new PointRuleException(StatusCodes.Status400BadRequest, "'mdat' without a preceding 'moof'");
        var fragment = await framer.ReadBoxAsync(header, moof, cancellationToken).ConfigureAwait(false);
        _receivedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        memory.Release(moof.Length);
        _pendingMoof = null;
        try
        {
            OnFragment(fragment, moof.Length);
        }
        finally
        {
            memory.Release(fragment.Length);
        }
    }

    /// <summary>ftyp, the ISML manifest, moov, and prft (the encoder's wall clock of a media time: the timeline anchor).</summary>
    private async Task OnHeaderBoxAsync(BoxFramer framer, BoxHeader header, CancellationToken cancellationToken)
    {
        var box = await ReadHeaderBoxAsync(framer, header, cancellationToken).ConfigureAwait(false);
        if (header.Type == BoxTypes.Ftyp)
        {
            _prologue.Clear();
            _manifest = [];
            _prologue.Add(box);
        }
        else if (header.Type == BoxTypes.Uuid)
        {
            _manifest = ReadManifest(box.AsSpan(header.HeaderLength));
            _prologue.RemoveAll(b => BoxHeader.TryRead(b, out var h) && h.Type == BoxTypes.Uuid);
            _prologue.Add(box);
        }
        else if (header.Type == BoxTypes.Moov)
        {
            OnMovie(box);
        }
        else if (PrftBox.TryRead(box, out var prft))
        {
            _prft = prft;
        }
    }

    private void OnMovie(byte[] moov)
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
            Bytes = Concat([.. _prologue, moov]),
            Moov = moov,
            Tracks = infos,
            Manifest = _manifest,
        };
        var descriptions = StreamTracks.Resolve(header, feed.Id);
        header = header with { Descriptions = descriptions };
        var bound = point.BindTracks(descriptions, out var conflict);
        if (conflict is not null)
        {
            throw new PointRuleException(StatusCodes.Status409Conflict, conflict);
        }

        _tracks = bound;
        _defaults = infos.ToDictionary(i => i.TrackId, i => i.Defaults);
        _archive = point.UseArchive(feed, header, registry.Options.MaxArchiveRunsPerStream, () => StreamArchive.Create(NewArchivePath(), header, registry.Options.FsyncArchive, registry.ArchiveFiles))
            ?? throw new PointRuleException(StatusCodes.Status429TooManyRequests,
                $"stream {feed.Id} has started {registry.Options.MaxArchiveRunsPerStream} archive files with a changed header; a new header is refused");
        if (logger.IsEnabled(LogLevel.Information))
        {
            var names = string.Join(", ", descriptions.Values.Select(d => d.Key));
            IngestLog.Header(logger, point.Path.Value, feed.Id, names, _archive.FileName);
        }
    }

    private void OnFragment(byte[] fragment, int moofLength)
    {
        var archive = _archive ?? AdoptStreamHeader()
            ?? throw new PointRuleException(StatusCodes.Status400BadRequest, "fragment before the 'moov' (send ftyp+moov first, on this or an earlier POST of the stream)");
        var trafs = ReadTrafs(fragment.AsSpan(0, moofLength));
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
            pieces = FragmentSplitter.Split(fragment, moofLength, trafs);
        }
        catch (InvalidBoxException e)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"bad multi-track fragment: {e.Message}");
        }

        foreach (var piece in pieces)
        {
            BoxHeader.TryRead(piece, out var moof);
            Collect(archive, piece, ReadTrafs(piece.AsSpan(0, (int)moof.Size))[0]);
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

        _tracks = point.BindTracks(archive.Header.Descriptions, out var conflict);
        if (conflict is not null)
        {
            throw new PointRuleException(StatusCodes.Status409Conflict, conflict);
        }

        _defaults = archive.Header.Tracks.ToDictionary(i => i.TrackId, i => i.Defaults);
        _archive = archive;
        return archive;
    }

    /// <summary>
    /// Fragments of a second or more are indexed as they come. Shorter ones (low-latency chunks) are gathered
    /// per track and indexed as one fragment: video up to the next keyframe, audio up to a second, and
    /// everything at a segment boundary ('styp') or the end of the body.
    /// </summary>
    private void Collect(StreamArchive archive, byte[] fragment, TrackFragment traf)
    {
        if (!_tracks.TryGetValue(traf.TrackId, out var track))
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"fragment for track {traf.TrackId}, which the 'moov' does not declare");
        }

        var isVideo = track.Description.Kind == TrackKind.Video;
        var pending = _pending.GetValueOrDefault(track);
        var time = traf.TfxdTime ?? traf.DecodeTime ?? pending?.End ?? track.Last?.End ?? 0;
        var duration = traf.TfxdDuration ?? traf.SummedDuration;
        var timescale = (long)track.Description.Timescale;
        if (duration < 0 || Math.Abs(time / timescale) > MaxTimeSeconds || duration / timescale > MaxTimeSeconds)
        {
            // Every output rescales times (to 10 MHz for Smooth, 90 kHz for HLS): keep them where that cannot overflow.
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"fragment time {time} or duration {duration} (timescale {timescale}) is out of range");
        }

        RefuseFarAhead(time, timescale);

        // Chunk durations are often estimates for the last sample: only a real jump in time (over 100 ms) breaks a run.
        var second = (long)track.Description.Timescale;
        var segmentStarts = isVideo && traf.FirstSampleIsSync;
        // The segments this chunk completes are indexed before it becomes a part, but their fsync waits until it is one:
        // a player gets the new segment's first part without waiting for the disk.
        _deferSync = true;
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

    private void CollectPart(StreamArchive archive, byte[] fragment, TrackFragment traf, Track track, PendingRun? pending, long time, long duration)
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

        if (pending.Parts.Count > 0 && (pending.Bytes + fragment.Length > registry.Options.MaxBoxBytes || pending.End - pending.Time >= MaxPendingSeconds * second))
        {
            // No keyframe for too long: index what was gathered rather than hold more.
            Flush(track, pending);
            pending = new PendingRun(archive, time);
            _pending[track] = pending;
        }

        memory.Reserve(fragment.Length);
        pending.Add(new FragmentPart(fragment, traf), duration);
        // Servable at once as an LL-HLS part of the segment being built (unless another feed already gave this time).
        if (track.IsNew(time))
        {
            Anchor(track, time + duration);
            track.AddPart(new PartEntry(time, duration, traf, fragment));
            point.Touch(); // playlists list the part from now on
            metrics.PartAvailable(System.Diagnostics.Stopwatch.GetElapsedTime(_receivedAt));
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

        if (_prft is { } prft && _tracks.TryGetValue(prft.ReferenceTrackId, out var reference))
        {
            point.AnchorTimeline(prft.WallClock, (double)prft.MediaTime / reference.Description.Timescale);
            return;
        }

        point.AnchorTimeline(registry.Time.GetUtcNow(), (double)end / track.Description.Timescale);
    }

    private void RefuseFarAhead(long time, long timescale)
    {
        var lead = registry.Options.MaxFragmentLeadSeconds;
        if (point.ExpectedEdgeSeconds(registry.Time.GetUtcNow()) is { } edge && (double)time / timescale > edge + lead)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest,
                $"fragment at {(double)time / timescale:0.###} s starts more than {lead} s ahead of the live edge ({edge:0.###} s): refused");
        }
    }

    private void FlushAll()
    {
        foreach (var (track, pending) in _pending.ToArray())
        {
            Flush(track, pending);
        }
    }

    private void Flush(Track track, PendingRun pending)
    {
        _pending.Remove(track);
        try
        {
            var partSamples = pending.Parts.Select(p => new PartLayout(p.Traf.SampleCount, p.Traf.TfxdDuration ?? p.Traf.SummedDuration, p.Traf.FirstSampleIsSync)).ToArray();
            if (pending.Parts.Count == 1)
            {
                Index(pending.Archive, track, pending.Parts[0].Bytes, pending.Parts[0].Traf, partSamples);
                return;
            }

            var merged = FragmentMerger.Merge(pending.Parts, pending.Time);
            BoxHeader.TryRead(merged, out var moof);
            Index(pending.Archive, track, merged, ReadTrafs(merged.AsSpan(0, (int)moof.Size))[0], partSamples);
        }
        finally
        {
            memory.Release(pending.Bytes);
        }
    }

    private void Index(StreamArchive archive, Track track, byte[] fragment, TrackFragment traf, IReadOnlyList<PartLayout>? partSamples = null)
    {
        var rolled = false;
        long time, duration;
        lock (track.WriteLock)
        {
            var last = track.Last;
            time = traf.TfxdTime ?? traf.DecodeTime ?? last?.End ?? 0;
            duration = traf.TfxdDuration ?? traf.SummedDuration;
            if (!track.IsNew(time))
            {
                Duplicates++;
                IngestLog.Duplicate(logger, point.Path.Value, feed.Id, track.Key, time);
                return;
            }

            var scale = (double)track.Description.Timescale;
            archive = feed.Archive ?? archive;
            var segment = registry.ArchiveSegmentSeconds(point);
            if (segment > 0 && traf.FirstSampleIsSync && IsRolloverTrack(track) && time / scale - archive.FirstSeconds >= segment)
            {
                var full = archive;
                archive = point.RollOver(feed, full, () => StreamArchive.Create(NewArchivePath(), full.Header, registry.Options.FsyncArchive, registry.ArchiveFiles));
                _archive = archive;
                rolled = archive != full;
            }

            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var offset = archive.Append(fragment, traf.TrackId, time, sync: !_deferSync);
            if (_deferSync && !_unsynced.Contains(archive))
            {
                _unsynced.Add(archive);
            }

            metrics.ArchiveWrite(System.Diagnostics.Stopwatch.GetElapsedTime(started));
            archive.Observe(time / scale, (time + duration) / scale);
            var entry = new FragmentEntry(time, duration, traf, archive, offset, fragment.Length, fragment)
            {
                Discontinuity = last is not null && time > last.End + (last.Duration / 2),
                Parts = partSamples,
            };
            var window = (long)point.DvrWindowSeconds(registry.Options.DvrWindowSeconds) * track.Description.Timescale;
            track.Append(entry, window);
        }

        if (rolled)
        {
            registry.Prune(point);
        }

        Accepted++;
        var now = registry.Time.GetUtcNow();
        point.AdvanceEdge((double)(time + duration) / track.Description.Timescale, now);
        Anchor(track, time + duration);

        feed.Count(fragment.Length, now);
        metrics.Ingested(point, track.Key, fragment.Length);
        point.Touch();
    }

    private void SyncDeferred()
    {
        _deferSync = false;
        try
        {
            foreach (var archive in _unsynced)
            {
                archive.Sync();
            }
        }
        finally
        {
            _unsynced.Clear();
        }
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

    private string NewArchivePath()
    {
        var path = Path.Combine(point.Directory, feed.Id + ".ismv");
        for (var n = 1; File.Exists(path); n++)
        {
            path = Path.Combine(point.Directory, $"{feed.Id}.{n}.ismv");
        }

        return path;
    }

    private static ServerManifestTrack[] ReadManifest(ReadOnlySpan<byte> payload)
    {
        try
        {
            return [.. ServerManifest.Read(payload)];
        }
        catch (FormatException e)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, $"bad ISML server manifest: {e.Message}");
        }
    }

    private async ValueTask<byte[]> ReadHeaderBoxAsync(BoxFramer framer, BoxHeader header, CancellationToken cancellationToken)
    {
        if (header.Size > MaxHeaderBoxBytes)
        {
            throw new PointRuleException(StatusCodes.Status413PayloadTooLarge, $"header box '{header.Type}' of {header.Size} bytes is over {MaxHeaderBoxBytes}");
        }

        // Header boxes are small and kept with the archive: held only while they are read.
        var box = await framer.ReadBoxAsync(header, null, cancellationToken).ConfigureAwait(false);
        memory.Release(box.Length);
        return box;
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

    private sealed class PendingRun(StreamArchive archive, long time)
    {
        public StreamArchive Archive { get; } = archive;

        public long Time { get; } = time;

        public long End { get; private set; } = time;

        public List<FragmentPart> Parts { get; } = [];

        public long Bytes { get; private set; }

        public void Add(FragmentPart part, long duration)
        {
            Parts.Add(part);
            End += duration;
            Bytes += part.Bytes.Length;
        }
    }
}
