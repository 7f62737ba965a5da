using System.Globalization;
using System.Text;
using PublishingPoint.Media.Dash;
using PublishingPoint.Media.Hls;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Configuration;
using PublishingPoint.Server.Delivery.Dash;
using PublishingPoint.Server.Delivery;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Publishing;

/// <summary>One rendition's segments in the store: a track in one container format.</summary>
internal readonly record struct Rendition(TrackKey Track, HlsFormat Format);

/// <summary>
/// Publishes one point, one pass at a time (never two at once, so its objects go out in order). A pass renders
/// the playlists and MPD from the point as it is, uploads every segment they reference that the store lacks
/// (init segments first, then segments in ascending number), then the media playlists, the masters and the
/// MPD, so no published playlist names an object that is not there yet. A failed pass is simply tried again
/// later: what is missing is worked out from the point each time, so nothing queues up in memory and nothing
/// is lost or reordered while the origin still holds the media.
/// </summary>
internal sealed partial class PointPublisher
{
    /// <summary>Segments that leave the live window stay this many segments longer, for players holding the previous playlist.</summary>
    internal const int DeleteGraceSegments = 2;

    // Windowed mode: the numbers put and not yet deleted that a rendition remembers (a day of 2 s segments).
    private const int MaxStoredNumbers = 43_200;

    private const string Immutable = "public, max-age=31536000, immutable";
    private const string MarkerFile = "published-to.txt";

    private readonly IObjectStore _store;
    private readonly SegmentCache _cache;
    private readonly PublishStatus _status;
    private readonly PublishOptions _options;
    private readonly int _defaultWindow;

    // Per rendition: the next segment number to upload; the oldest still in the store (windowed mode) and where
    // the contiguous run that ends at next begins.
    private readonly Dictionary<Rendition, long> _next = [];
    private readonly Dictionary<Rendition, long> _bucketFrom = [];
    private readonly Dictionary<Rendition, long> _runStart = [];
    private readonly HashSet<Rendition> _inits = [];
    // Windowed mode: the numbers this process put and has not deleted yet, per rendition (a window and its grace).
    private readonly Dictionary<Rendition, SortedSet<long>> _stored = [];
    // Restored from saved progress: where the process before stopped putting (its window may still be in the store).
    private readonly Dictionary<Rendition, long> _restoredNext = [];

    // Per rendition: segments older than the live window still to put (from, to), a batch a pass after the playlists.
    private readonly BackfillRanges _backfill = new();
    private readonly Dictionary<string, byte[]> _uploaded = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _playlistCount;

    // What the point's folder said at the start (a restart goes on from there), and when progress was last written.
    private readonly Dictionary<string, RenditionProgress> _saved;
    private long? _savedAt;
    private bool _progressChanged;

    private readonly ILogger _logger;

    public PointPublisher(Point point, IObjectStore store, SegmentCache cache, PublishStatus status, PublishOptions options, int defaultWindow, ILogger logger)
    {
        _logger = logger;
        Point = point;
        _store = store;
        _cache = cache;
        _status = status;
        _options = options;
        _defaultWindow = defaultWindow;
        if (point.State == PointState.Vod && AlreadyPublished())
        {
            PublishedVersion = point.Version;
            VodPublished = true;
        }

        // Also when published as VOD: an encoder that goes on after the restart must not have the whole event put again.
        _saved = PublishProgress.Load(point.Directory, ProgressTarget());
    }

    public Point Point { get; }

    /// <summary>The point version the last successful pass published (-1: none yet).</summary>
    public long PublishedVersion { get; private set; } = -1;

    public bool VodPublished { get; private set; }

    public int ConsecutiveFailures { get; private set; }

    public DateTimeOffset NextAttempt { get; private set; }

    public Task? Running { get; set; }

    private string Prefix => Point.Path.Value + "/";

    /// <summary>Due when the point changed since the last published pass, older segments wait, or a failed pass waits for its retry.</summary>
    public bool IsDue(DateTimeOffset now) =>
        (Running is null || Running.IsCompleted) && now >= NextAttempt && (Point.Version != PublishedVersion || ConsecutiveFailures > 0 || HasBackfill);

    private bool HasBackfill
    {
        get
        {
            lock (_lock)
            {
                return !_backfill.IsEmpty;
            }
        }
    }

    /// <summary>Older segments a live pass puts after the playlists (the rest wait for the next pass, so other points get their turn).</summary>
    internal const int BackfillPerPass = 32;

    /// <summary>
    /// Segments the point has that the store does not, without rendering anything (for the backlog gauge
    /// between passes, so it grows while the store is down).
    /// </summary>
    public long EstimateBacklog()
    {
        long backlog = 0;
        lock (_lock)
        {
            foreach (var (rendition, next) in _next)
            {
                if (Point.FindTrack(rendition.Track) is { } track)
                {
                    backlog += track.CountFrom(next) + _backfill.Count(rendition, track);
                }
            }
        }

        return backlog + (Point.Version != PublishedVersion ? Math.Max(1, Volatile.Read(ref _playlistCount)) : 0);
    }

    public void Fail(DateTimeOffset now, double maxDelaySeconds)
    {
        ConsecutiveFailures++;
        var delay = Math.Min(maxDelaySeconds, 0.5 * Math.Pow(2, Math.Min(ConsecutiveFailures - 1, 20)));
        NextAttempt = now + TimeSpan.FromSeconds(delay);
    }

    /// <summary>One pass; throws when the store fails (the caller backs off and tries again).</summary>
    public async Task PublishAsync(CancellationToken cancellationToken)
    {
        try
        {
            await PassAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            SaveProgress(force: false);
        }
    }

    /// <summary>
    /// Writes where publishing stands if it moved, at most every <see cref="SaveIntervalMilliseconds"/> unless
    /// <paramref name="force"/> (at shutdown): a crash puts at most that much again after the restart.
    /// </summary>
    public void SaveProgress(bool force)
    {
        Dictionary<string, RenditionProgress> renditions;
        lock (_lock)
        {
            var now = Environment.TickCount64;
            if (!_progressChanged || (!force && _savedAt is { } at && now - at < SaveIntervalMilliseconds))
            {
                return;
            }

            renditions = _next.ToDictionary(p => PublishProgress.Key(p.Key), p => new RenditionProgress(p.Value, _bucketFrom.GetValueOrDefault(p.Key),
                _runStart.GetValueOrDefault(p.Key), _backfill.Saved(p.Key)), StringComparer.Ordinal);
            _progressChanged = false;
            _savedAt = now;
        }

        foreach (var (key, saved) in _saved)
        {
            renditions.TryAdd(key, saved); // a rendition not planned since the restart keeps what it had
        }

        new PublishProgress(ProgressTarget(), renditions).Save(Point);
    }

    private const int SaveIntervalMilliseconds = 10_000;

    private async Task PassAsync(CancellationToken cancellationToken)
    {
        if (Point.Retired)
        {
            return; // deleted, or replaced by a restart on reconnect: its playlists would go over the new presentation's
        }

        var version = Point.Version;
        var vod = Point.State == PointState.Vod;
        if (!vod && VodPublished)
        {
            // The event goes on after it was published as VOD: until it is again, a restart must not take it for done.
            VodPublished = false;
            ForgetPublished();
        }

        var (playlists, referenced) = Render(vod);
        var work = Plan(referenced, vod);
        Volatile.Write(ref _playlistCount, playlists.Count);
        var changed = playlists.Where(p => !_uploaded.TryGetValue(p.Key, out var last) || !last.AsSpan().SequenceEqual(p.Bytes)).ToList();
        _status.SetBacklog(Point.Path.Value, work.Count + changed.Count);

        // Init segments, then segments in ascending number (renditions interleaved), then the playlists.
        await PutInitsAsync(referenced, cancellationToken).ConfigureAwait(false);
        var remaining = work.Count + changed.Count;
        // A finished event the store lacks can be hours of segments: its pass gives its turn up after a while (counted once
        // its segments are planned, so a long plan cannot use the turn up before one is put), and the next goes on from
        // there (its playlists, which list every segment, only once all are in the store).
        var giveUpAt = long.MaxValue;
        if (vod)
        {
            // The VOD playlists list every segment: those left behind the live window go first.
            var older = PlanBackfill(int.MaxValue);
            giveUpAt = Environment.TickCount64 + VodTurnMilliseconds;
            remaining = await PutSegmentsAsync(older, remaining + older.Count, backfill: true, cancellationToken, giveUpAt).ConfigureAwait(false);
        }

        remaining = await PutSegmentsAsync(work, remaining, backfill: false, cancellationToken, giveUpAt).ConfigureAwait(false);
        if (vod && remaining > changed.Count && !Point.Retired)
        {
            ConsecutiveFailures = 0;
            NextAttempt = default;
            return; // still due (its version is not published): back in line behind the points that waited meanwhile
        }

        var cacheControl = vod ? MaxAge(_options.VodPlaylistMaxAge) : MaxAge(_options.LivePlaylistMaxAge);
        if (Point.Retired)
        {
            return;
        }

        foreach (var (key, bytes, contentType) in changed)
        {
            await PutAsync(key, bytes, contentType, cacheControl, cancellationToken).ConfigureAwait(false);
            _uploaded[key] = bytes;
            _status.SetBacklog(Point.Path.Value, --remaining);
        }

        if (!_options.KeepSegmentsForVod && !vod && Environment.TickCount64 >= _deletesDueAt)
        {
            await DeleteOrDeferAsync(referenced, cancellationToken).ConfigureAwait(false);
        }

        if (!vod)
        {
            var older = PlanBackfill(BackfillPerPass);
            await PutSegmentsAsync(older, older.Count, backfill: true, cancellationToken).ConfigureAwait(false);
        }

        PublishedVersion = version;
        ConsecutiveFailures = 0;
        NextAttempt = default;
        _status.SetBacklog(Point.Path.Value, EstimateBacklog());
        if (vod && !VodPublished)
        {
            VodPublished = true;
            MarkPublished();
        }
    }

    /// <summary>Renders masters first (they list tracks that have media), then every track's playlists, then the MPD.</summary>
    private (List<(string Key, byte[] Bytes, string ContentType)> Playlists, Dictionary<Rendition, (long From, long To)> Referenced) Render(bool vod)
    {
        var window = Point.DvrWindowSeconds(_defaultWindow);
        var anchor = Point.Anchor(DateTimeOffset.UtcNow);
        var playlists = new List<(string Key, byte[] Bytes, string ContentType)>();
        var referenced = new Dictionary<Rendition, (long From, long To)>();
        var tracks = Point.Tracks();
        var masters = new List<(string Key, byte[] Bytes, string ContentType)>();
        if (_options.Publishes(PublishFormat.Hls))
        {
            foreach (var (format, name) in new[] { (HlsFormat.Ts, "master.m3u8"), (HlsFormat.Fmp4, "master-fmp4.m3u8") })
            {
                // Rates over the live window, as the origin's master (over the whole event they were copied from every
                // fragment of a long one, under the lock ingest takes, on every pass); no I-frame playlists, which
                // are not published (a CDN would answer 404 for them).
                if (HlsPlaylistBuilder.Master(Point, format, vod ? 0 : window, iFrames: false) is { } master)
                {
                    masters.Add((name, Encoding.UTF8.GetBytes(MasterPlaylistWriter.Write(master)), HlsDelivery.PlaylistContentType));
                }
            }

            tracks = Point.Tracks();
            playlists.AddRange(MediaPlaylists(tracks, vod, window, anchor, referenced));
        }

        playlists.AddRange(masters);
        if (_options.Publishes(PublishFormat.Dash) && (Point.PresentationOrigin ??= DashManifestBuilder.Origin(Point)) is { } origin
            && DashManifestBuilder.Build(Point, window, anchor, origin, DateTimeOffset.UtcNow, _options.DashTimeUrl ?? string.Empty, byNumber: true) is { } mpd)
        {
            if (string.IsNullOrEmpty(_options.DashTimeUrl))
            {
                mpd = mpd with { UtcTimings = [] };
            }

            mpd = Dash(mpd, tracks, vod, referenced);
            playlists.Add((DashDelivery.ManifestName, MpdBytes(mpd), MpdWriter.ContentType));
        }

        return (playlists, referenced);
    }

    private IEnumerable<(string Key, byte[] Bytes, string ContentType)> MediaPlaylists(Track[] tracks, bool vod, int window, DateTimeOffset anchor, Dictionary<Rendition, (long From, long To)> referenced)
    {
        foreach (var track in tracks)
        {
            foreach (var format in new[] { HlsFormat.Ts, HlsFormat.Fmp4 })
            {
                if (HlsPlaylistBuilder.Media(Point, track, format, window, anchor) is not { } media)
                {
                    continue;
                }

                // A store holds whole segments and blocks no reload: low-latency parts, hints and reports stay at the origin.
                media = media with
                {
                    PartTarget = null,
                    OpenParts = [],
                    PreloadHint = null,
                    RenditionReports = [],
                    Segments = [.. media.Segments.Select(s => s.Parts is null ? s : s with { Parts = null })],
                };
                var rendition = new Rendition(track.Key, format);
                if (vod && !_options.KeepSegmentsForVod)
                {
                    media = Trim(media, StoredFrom(rendition));
                }

                Reference(referenced, rendition, media.Segments.Select(s => s.Sequence));
                yield return ("hls/" + HlsPlaylistBuilder.PlaylistName(track.Key, format), Encoding.UTF8.GetBytes(MediaPlaylistWriter.Write(media)), HlsDelivery.PlaylistContentType);
            }
        }
    }

    /// <summary>What the store lacks: for each rendition, from the next unpublished segment up to the newest referenced.</summary>
    private List<(Rendition Rendition, long Sequence)> Plan(Dictionary<Rendition, (long From, long To)> referenced, bool vod)
    {
        var work = new List<(Rendition Rendition, long Sequence)>();
        lock (_lock)
        {
            foreach (var (rendition, range) in referenced)
            {
                if (Point.FindTrack(rendition.Track) is not { } track)
                {
                    continue;
                }

                var first = track.First?.Sequence ?? 0;
                var next = NextToPublishLocked(rendition, range, first, vod);
                // The segments the track has, not every number up to the newest (an encoder's pause leaves numbers without
                // segments, thousands for a day); never past the newest complete one (one still being built comes later).
                foreach (var entry in track.SnapshotFromSequence(next))
                {
                    if (entry.Sequence > range.To)
                    {
                        break;
                    }

                    work.Add((rendition, entry.Sequence));
                }
            }
        }

        return work;
    }

    private long NextToPublishLocked(Rendition rendition, (long From, long To) range, long first, bool vod)
    {
        if (!_next.TryGetValue(rendition, out var next))
        {
            if (_saved.TryGetValue(PublishProgress.Key(rendition), out var saved))
            {
                // published before a restart: what the store took then is not put again
                next = saved.Next;
                _restoredNext[rendition] = saved.Next;
                _bucketFrom[rendition] = saved.StoreFrom;
                _runStart[rendition] = saved.RunStart;
                _backfill.Restore(rendition, saved.Backfill);
            }
            else
            {
                next = _options.KeepSegmentsForVod ? first : range.From;
                _bucketFrom[rendition] = next;
                _runStart[rendition] = next;
            }
        }

        if (next < first)
        {
            // the origin pruned these before the store took them (a long outage): they cannot be published any more
            _status.SkippedSegments(first - next);
            next = first;
            _runStart[rendition] = next;
        }

        if (_options.KeepSegmentsForVod && !vod && next < range.From)
        {
            // Older than the live window, which live playlists do not list: the window and its playlists go first
            // (a store lacking hours must not hold the live playlists back for as long), these after them.
            _backfill.Add(rendition, next, range.From);
            next = range.From;
            _progressChanged = true;
        }

        if (!_options.KeepSegmentsForVod && next < range.From)
        {
            // out of the live window already: not worth uploading, and deleted below with the rest
            next = range.From;
            _runStart[rendition] = next;
        }

        _next[rendition] = next;
        return next;
    }

    private async Task PutInitsAsync(Dictionary<Rendition, (long From, long To)> referenced, CancellationToken cancellationToken)
    {
        foreach (var rendition in referenced.Keys.Where(r => r.Format == HlsFormat.Fmp4 && !_inits.Contains(r)).ToList())
        {
            if (Point.FindTrack(rendition.Track) is { Last: not null } track && HlsPackager.InitSegment(track) is { } init)
            {
                var bytes = await _cache.GetOrProduceAsync(new HlsSegmentKey(Point, track.Key, HlsFormat.Fmp4, -1), 4096, () => Task.FromResult(init)).ConfigureAwait(false);
                await PutAsync($"hls/{HlsPlaylistBuilder.Name(track.Key)}/init.mp4", bytes, HlsDelivery.Mp4ContentType, Immutable, cancellationToken).ConfigureAwait(false);
                _inits.Add(rendition);
            }
        }
    }

    /// <summary>Up to <paramref name="budget"/> of the older segments still to put, oldest first, renditions interleaved.</summary>
    private List<(Rendition Rendition, long Sequence)> PlanBackfill(int budget)
    {
        List<(Rendition Rendition, long Sequence)> work;
        lock (_lock)
        {
            var pending = !_backfill.IsEmpty;
            work = _backfill.Next(r => Point.FindTrack(r.Track), budget, _status.SkippedSegments);
            _progressChanged |= work.Count > 0 || pending != !_backfill.IsEmpty;
        }

        return [.. work.OrderBy(w => w.Sequence).Take(budget)];
    }

    /// <summary>How long a finished event's pass puts segments before it gives its turn up to the points waiting for one.</summary>
    internal const int VodTurnMilliseconds = 5_000;

    private async Task<int> PutSegmentsAsync(List<(Rendition Rendition, long Sequence)> work, int remaining, bool backfill, CancellationToken cancellationToken,
        long giveUpAt = long.MaxValue)
    {
        foreach (var (rendition, sequence) in work.OrderBy(w => w.Sequence).ThenBy(w => w.Rendition.Format).ThenBy(w => w.Rendition.Track.Name, StringComparer.Ordinal).ThenBy(w => w.Rendition.Track.Bitrate))
        {
            // Deleted, or replaced by a restart on reconnect: the rest is not this presentation's to put (nor can its
            // archive make it any more).
            if (Environment.TickCount64 >= giveUpAt || Point.Retired)
            {
                break;
            }

            if (await ProducibleSegmentAsync(rendition, sequence).ConfigureAwait(false) is { } bytes)
            {
                var (extension, contentType) = HlsDelivery.SegmentType(Point.FindTrack(rendition.Track)?.Description.Kind ?? TrackKind.Video, rendition.Format);
                await PutAsync(string.Create(CultureInfo.InvariantCulture, $"hls/{HlsPlaylistBuilder.Name(rendition.Track)}/{sequence}.{extension}"), bytes, contentType, Immutable, cancellationToken).ConfigureAwait(false);
                if (!_options.KeepSegmentsForVod)
                {
                    lock (_lock)
                    {
                        var stored = _stored.TryGetValue(rendition, out var set) ? set : _stored[rendition] = [];
                        stored.Add(sequence);
                        if (stored.Count > MaxStoredNumbers)
                        {
                            stored.Remove(stored.Min); // deletes refused for hours: the oldest stays in the store
                        }
                    }
                }
            }
            else
            {
                _status.SkippedSegments(1);
            }

            lock (_lock)
            {
                if (!backfill)
                {
                    _next[rendition] = sequence + 1;
                }
                else
                {
                    _backfill.Done(rendition, sequence);
                }

                _progressChanged = true;
            }

            SaveProgress(force: false); // a long pass (a VOD's backfill) must not lose its progress to a crash
            _status.SetBacklog(Point.Path.Value, remaining = Math.Max(0, remaining - 1));
        }

        return remaining;
    }

    // A segment the origin cannot make (a corrupt sample: 422 there; its archive gone: 404) is skipped and counted like one
    // the origin no longer holds, not a store failure: failing the pass on it held back everything after it for good.
    // Any other failure to make it (an I/O error reading the archive, a fault in the packager) may pass: the pass fails
    // and is retried, and only once the same segment has failed MakeAttempts times over at least MakeGiveUpSeconds is
    // it skipped as above (a review's finding: one such segment held back the point's playlists, and its VOD, for
    // good). Counted per segment, as the live window's segments succeed before a backfill one is tried again; a segment
    // the cache had to let go under a crowd (answered 503 to players) is never given up on.
    private async Task<byte[]?> ProducibleSegmentAsync(Rendition rendition, long sequence)
    {
        try
        {
            var bytes = await SegmentAsync(rendition, sequence).ConfigureAwait(false);
            _failing.Remove((rendition, sequence));
            return bytes;
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or Archive.ArchiveGoneException)
        {
            LogUnpublishable(Point.Path.Value, HlsPlaylistBuilder.Name(rendition.Track), sequence, e.Message);
            return null;
        }
        catch (Exception e) when (e is not (OperationCanceledException or Delivery.SegmentUnavailableException))
        {
            var now = Environment.TickCount64;
            var (count, since) = _failing.GetValueOrDefault((rendition, sequence), (0, now));
            if (count + 1 < MakeAttempts || now - since < MakeGiveUpSeconds * 1000L)
            {
                if (_failing.Count >= MaxFailingSegments)
                {
                    _failing.Clear(); // a store of failures on every segment: counting starts again
                }

                _failing[(rendition, sequence)] = (count + 1, since);
                throw;
            }

            _failing.Remove((rendition, sequence));
            LogUnpublishable(Point.Path.Value, HlsPlaylistBuilder.Name(rendition.Track), sequence,
                $"{count + 1} attempts over {(now - since) / 1000} s failed, the last with {e.GetType().Name}: {e.Message}");
            return null;
        }
    }

    internal const int MakeAttempts = 5;
    internal const int MakeGiveUpSeconds = 300;
    private const int MaxFailingSegments = 1024;
    private readonly Dictionary<(Rendition Rendition, long Sequence), (int Count, long Since)> _failing = [];

    [LoggerMessage(EventId = 906, Level = LogLevel.Warning, Message = "Publishing {Point}: segment {Sequence} of {Rendition} cannot be made and is skipped: {Reason}")]
    private partial void LogUnpublishable(string point, string rendition, long sequence, string reason);

    // A store that takes PUTs but refuses DELETEs (a policy with s3:PutObject only, a folder the server cannot delete in)
    // must not fail the pass: the live playlists were put, and the retries would back off to a pass every 30 s. The
    // deletes are tried again after MaxRetryDelaySeconds; what was not deleted stays in the store.
    private async Task DeleteOrDeferAsync(Dictionary<Rendition, (long From, long To)> referenced, CancellationToken cancellationToken)
    {
        try
        {
            await DeleteOutOfWindowAsync(referenced, cancellationToken).ConfigureAwait(false);
            if (_deletesFailing)
            {
                _deletesFailing = false;
                LogDeletesRecovered(Point.Path.Value);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _deletesDueAt = Environment.TickCount64 + (long)(_options.MaxRetryDelaySeconds * 1000);
            _status.DeleteFailed();
            if (!_deletesFailing)
            {
                _deletesFailing = true;
                LogDeletesFailed(Point.Path.Value, _options.MaxRetryDelaySeconds, e.Message);
            }
        }
    }

    private long _deletesDueAt;
    private bool _deletesFailing;

    [LoggerMessage(EventId = 907, Level = LogLevel.Warning, Message = "Publishing {Point}: the store refused a DELETE of a segment that left the window; live publishing goes on, and deletes are tried again every {Seconds} s (segments stay in the store meanwhile): {Error}")]
    private partial void LogDeletesFailed(string point, double seconds, string error);

    [LoggerMessage(EventId = 908, Level = LogLevel.Information, Message = "Publishing {Point}: the store takes DELETEs again")]
    private partial void LogDeletesRecovered(string point);

    /// <summary>Windowed: segments that left every playlist (plus a grace) are deleted, oldest first.</summary>
    // A segment leaves the store once the window has moved DeleteGraceSegments segments past it (a player that loaded
    // the playlist before may still ask for it): segments the track has, not numbers, which jump by thousands across an
    // encoder's outage (counted in numbers, the grace kept none of the segments before the gap). Only numbers that have
    // a segment get a DELETE, not every number of an outage (43,200 for a day's): those the track still has, and of
    // those it no longer has (the archive was pruned first: a short ArchiveLengthSeconds, a store that was down), the
    // ones this process put.
    private async Task DeleteOutOfWindowAsync(Dictionary<Rendition, (long From, long To)> referenced, CancellationToken cancellationToken)
    {
        foreach (var (rendition, range) in referenced)
        {
            if (Point.FindTrack(rendition.Track) is not { } track || !_bucketFrom.TryGetValue(rendition, out var from))
            {
                continue;
            }

            var before = track.SnapshotRange(from, range.From, int.MaxValue);
            var firstIndexed = Math.Min(track.First?.Sequence ?? range.From, range.From);
            var doomed = Math.Max(0, before.Length - DeleteGraceSegments);
            List<long> numbers;
            lock (_lock)
            {
                numbers = firstIndexed > from && _stored.TryGetValue(rendition, out var stored) ? [.. stored.GetViewBetween(from, firstIndexed - 1)] : [];
                if (firstIndexed > from && _restoredNext.Remove(rendition, out var restored))
                {
                    // The process before put a window and its grace up to where it stopped: those numbers, pruned since.
                    var first = Math.Max(from, restored - WindowSegments());
                    for (var n = first; n < Math.Min(restored, firstIndexed); n++)
                    {
                        numbers.Add(n);
                    }

                    numbers = [.. numbers.Distinct().Order()];
                }
            }

            numbers.AddRange(before.Take(doomed).Select(e => e.Sequence));
            var (extension, _) = HlsDelivery.SegmentType(track.Description.Kind, rendition.Format);
            foreach (var n in numbers)
            {
                var key = Prefix + string.Create(CultureInfo.InvariantCulture, $"hls/{HlsPlaylistBuilder.Name(rendition.Track)}/{n}.{extension}");
                await StoreAsync(() => _store.DeleteAsync(key, cancellationToken), cancellationToken).ConfigureAwait(false);
                _status.Deleted();
                lock (_lock)
                {
                    _stored.GetValueOrDefault(rendition)?.Remove(n);
                    _bucketFrom[rendition] = n + 1;
                    _progressChanged = true;
                }
            }

            lock (_lock)
            {
                // the next pass starts at the first segment kept, past the numbers of a gap
                _bucketFrom[rendition] = doomed > 0 ? before[doomed].Sequence : Math.Max(from, firstIndexed);
                _stored.GetValueOrDefault(rendition)?.RemoveWhere(n => n < _bucketFrom[rendition]);
                _progressChanged = true;
            }
        }
    }

    // A live window's segments and the grace, at the nominal segment length (1 s when not known yet).
    private long WindowSegments()
    {
        var nominal = Point.Numbering.NominalTicks > 0 ? Point.Numbering.NominalTicks : TimeSpan.TicksPerSecond;
        return (Point.DvrWindowSeconds(_defaultWindow) * TimeSpan.TicksPerSecond / nominal) + DeleteGraceSegments + 1;
    }

    private static string MaxAge(int seconds) => seconds > 0 ? string.Create(CultureInfo.InvariantCulture, $"public, max-age={seconds}") : "no-cache";

    private async Task PutAsync(string key, byte[] bytes, string contentType, string cacheControl, CancellationToken cancellationToken)
    {
        await StoreAsync(() => _store.PutAsync(Prefix + key, bytes, contentType, cacheControl, cancellationToken), cancellationToken).ConfigureAwait(false);
        _status.Put(bytes.Length);
    }

    // What the store threw (before its task, too), told apart from the origin's own failures in a pass: only the
    // store's make it "down".
    private static async Task StoreAsync(Func<Task> operation, CancellationToken cancellationToken)
    {
        try
        {
            await operation().ConfigureAwait(false);
        }
        catch (Exception e) when (!(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            throw new ObjectStoreException($"the store failed: {e.Message}", e);
        }
    }

    /// <summary>The segment's bytes (shared with the origin's cache), or null when the origin no longer has it.</summary>
    private async Task<byte[]?> SegmentAsync(Rendition rendition, long sequence)
    {
        if (Point.FindTrack(rendition.Track) is not { } track)
        {
            return null;
        }

        // The segment and the one after it (where its end is), not the whole event's list.
        var fragments = track.SnapshotSegment(sequence, out _, out _, out _);
        var index = Track.IndexOf(fragments, sequence);
        if (index < 0)
        {
            return null;
        }

        var entry = fragments[index];
        var key = new HlsSegmentKey(Point, track.Key, rendition.Format, sequence);
        if (rendition.Format == HlsFormat.Ts && track.Description.Kind == TrackKind.Audio)
        {
            return await _cache.GetOrProduceAsync(key, entry.Length * 2L, () => HlsPackager.PackedAudioAsync(track, entry, CancellationToken.None)).ConfigureAwait(false);
        }

        if (rendition.Format == HlsFormat.Ts)
        {
            var audio = TsAudio.For(Point, track, entry, Point.State != PointState.Vod);
            return await _cache.GetOrProduceAsync(key, entry.Length * 2L,
                () => HlsPackager.TsSegmentAsync(Point, track, audio, fragments, (int)index, sequence, CancellationToken.None).AsTask()).ConfigureAwait(false);
        }

        return await _cache.GetOrProduceAsync(key, entry.Length * 2L,
            () => HlsPackager.Fmp4SegmentAsync(Point, track, entry, sequence, CancellationToken.None)).ConfigureAwait(false);
    }

    private static void Reference(Dictionary<Rendition, (long From, long To)> referenced, Rendition rendition, IEnumerable<long> sequences)
    {
        foreach (var sequence in sequences)
        {
            referenced[rendition] = referenced.TryGetValue(rendition, out var range)
                ? (Math.Min(range.From, sequence), Math.Max(range.To, sequence))
                : (sequence, sequence);
        }
    }

    /// <summary>Where the store's contiguous run of a rendition's segments begins (windowed mode, for the final playlists).</summary>
    private long StoredFrom(Rendition rendition)
    {
        lock (_lock)
        {
            if (!_next.ContainsKey(rendition) && _saved.TryGetValue(PublishProgress.Key(rendition), out var saved))
            {
                return Math.Max(saved.StoreFrom, saved.RunStart); // not planned since a restart: as it stood before it
            }

            return Math.Max(_bucketFrom.GetValueOrDefault(rendition), _runStart.GetValueOrDefault(rendition));
        }
    }

    /// <summary>A VOD playlist cut to the segments still in the store: the live window it ended with.</summary>
    private static MediaPlaylist Trim(MediaPlaylist media, long from)
    {
        var dropped = media.Segments.TakeWhile(s => s.Sequence < from).ToList();
        if (dropped.Count == 0 || dropped.Count == media.Segments.Count)
        {
            return media;
        }

        var kept = media.Segments.Skip(dropped.Count).ToList();
        var discontinuities = dropped.Count(s => s.Discontinuity) + (kept[0].Discontinuity ? 1 : 0);
        kept[0] = kept[0] with { Discontinuity = false };
        return media with { MediaSequence = kept[0].Sequence, DiscontinuitySequence = media.DiscontinuitySequence + discontinuities, Segments = kept };
    }

    // An MPD whose only change is its publishTime (a low-latency point changes with every part, five times a second, and
    // the store holds no parts) keeps the one in the store: it is put again only when what it lists changed.
    private byte[] MpdBytes(MediaPresentation mpd)
    {
        if (_uploaded.TryGetValue(DashDelivery.ManifestName, out var stored) && _storedMpdTime is { } time
            && Encoding.UTF8.GetBytes(MpdWriter.Write(mpd with { PublishTime = time })) is var same && same.AsSpan().SequenceEqual(stored))
        {
            return same;
        }

        _storedMpdTime = mpd.PublishTime;
        return Encoding.UTF8.GetBytes(MpdWriter.Write(mpd));
    }

    private DateTimeOffset? _storedMpdTime;

    /// <summary>Records the fMP4 segments the MPD references; a windowed VOD MPD is cut to what the store holds.</summary>
    private MediaPresentation Dash(MediaPresentation mpd, Track[] tracks, bool vod, Dictionary<Rendition, (long From, long To)> referenced)
    {
        var byName = tracks.ToDictionary(t => HlsPlaylistBuilder.Name(t.Key), t => t.Key, StringComparer.Ordinal);
        var stored = mpd with { ServiceDescription = null, Periods = [.. mpd.Periods.Select(p => p with { AdaptationSets = [.. p.AdaptationSets.Select(Stored)] })] };

        // Windowed: the VOD keeps the last window only, so it starts at that window's first segment (it started at the
        // event's, with the event's length of nothing before it).
        return vod && !_options.KeepSegmentsForVod ? DashManifestBuilder.StartAtFirstListed(stored) : stored;

        DashAdaptationSet Stored(DashAdaptationSet set)
        {
            var representations = new List<DashRepresentation>();
            foreach (var representation in set.Representations)
            {
                var template = representation.SegmentTemplate;
                if (template.AvailabilityTimeOffset is not null)
                {
                    // Low-latency: the last entry is the segment still being built, which the store cannot have yet.
                    template = template with { AvailabilityTimeOffset = null, Segments = [.. template.Segments.SkipLast(1)] };
                }

                if (byName.TryGetValue(representation.Id, out var key))
                {
                    var rendition = new Rendition(key, HlsFormat.Fmp4);
                    if (vod && !_options.KeepSegmentsForVod)
                    {
                        var (from, skip) = (StoredFrom(rendition), 0);
                        while (skip < template.Segments.Count - 1 && template.NumberAt(skip) < from)
                        {
                            skip++;
                        }

                        template = template.WithoutFirst(skip);
                    }

                    Reference(referenced, rendition, Enumerable.Range(0, template.Segments.Count).Select(template.NumberAt));
                }

                representations.Add(representation with { SegmentTemplate = template });
            }

            return set with { Representations = representations };
        }
    }

    private bool AlreadyPublished()
    {
        var file = Path.Combine(Point.Directory, MarkerFile);
        try
        {
            return File.Exists(file) && File.ReadAllText(file) == Marker();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private void MarkPublished()
    {
        try
        {
            Point.WriteInFolder(folder => File.WriteAllText(Path.Combine(folder, MarkerFile), Marker())); // not a new presentation's (restart on reconnect)
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // only saves a re-upload after a restart
        }
    }

    private void ForgetPublished()
    {
        try
        {
            Point.WriteInFolder(folder => File.Delete(Path.Combine(folder, MarkerFile)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            VodPublished = true; // tried again at the next pass
        }
    }

    // Progress holds for one store, set of formats and way of keeping segments (windowed mode deleted what keep-all needs).
    private string ProgressTarget() => Marker() + (_options.KeepSegmentsForVod ? "|keep" : "|windowed");

    private string Marker() => _store.Description + "|" + string.Join(',', _options.Formats.Count == 0 ? [PublishFormat.Hls, PublishFormat.Dash] : _options.Formats);
}
