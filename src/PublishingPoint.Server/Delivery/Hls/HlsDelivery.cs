using System.Globalization;
using System.Text;
using PublishingPoint.Media.Hls;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Hosting;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>
/// HLS delivery (RFC 8216), every URL relative to <c>/{point}.isml/</c>:
/// <code>
/// master.m3u8                          MPEG-TS variants, the point's audio muxed into each
/// master-fmp4.m3u8                     fMP4 (CMAF) variants with an EXT-X-MEDIA TYPE=AUDIO group
/// hls/{name}-{bitrate}.m3u8            TS media playlist of a video track
/// hls/{name}-{bitrate}-fmp4.m3u8       fMP4 media playlist of a video or audio track
/// hls/{name}-{bitrate}/{n}.ts          TS segment n: video fragment n + audio in [its start, next start)
/// hls/{name}-{bitrate}/init.mp4        fMP4 initialization segment
/// hls/{name}-{bitrate}/{n}.m4s         fMP4 segment n (fragment n repackaged: styp, moof(mfhd, traf(tfhd, tfdt, trun)), mdat)
/// </code>
/// Segment n is the track's n-th fragment since the point began: it is the media sequence number, and every
/// rendition's segment n covers the same interval when the encoders share a timeline.
/// </summary>
internal sealed class HlsDelivery(PointRegistry registry, SegmentCache cache, HeldRequests held)
{
    public const string PlaylistContentType = "application/vnd.apple.mpegurl";
    public const string TsContentType = "video/mp2t";
    public const string Mp4ContentType = "video/mp4";
    public const string PackedAudioContentType = "audio/aac";

    /// <summary>A rendition's segment extension and media type: .ts (video with its audio), .aac (audio alone in the TS family), .m4s.</summary>
    public static (string Extension, string ContentType) SegmentType(TrackKind kind, HlsFormat format) =>
        format == HlsFormat.Fmp4 ? ("m4s", Mp4ContentType) : kind == TrackKind.Audio ? ("aac", PackedAudioContentType) : ("ts", TsContentType);
    private const string Immutable = "public, max-age=31536000, immutable";
    private const int PartHeaderRoom = 4096;
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Track, SemaphoreSlim> _keyframeTurns = [];
    private static readonly SemaphoreSlim _keyframeScans = new(Math.Max(1, Environment.ProcessorCount / 2));

    public static bool Handles(string rest) =>
        rest.StartsWith("hls/", StringComparison.Ordinal) || rest is "master.m3u8" or "master-fmp4.m3u8";

    public async Task HandleAsync(HttpContext context, Point point, string rest)
    {
        var now = registry.Time.GetUtcNow();
        var anchor = point.Anchor(now);
        if (!TimeShift.TryParse(context.Request, anchor, now, out var shift, out var problem))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, problem!).ConfigureAwait(false);
            return;
        }

        if (rest is "master.m3u8" or "master-fmp4.m3u8")
        {
            await (RenderedResponses.TryServeCached(context, point, rest, shift, null) ?? MasterAsync(context, point, rest, shift)).ConfigureAwait(false);
        }
        else if (!HlsUrl.TryParse(rest, out var url) || point.FindTrack(url.Name, url.Bitrate) is not { } track)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "unknown HLS resource").ConfigureAwait(false);
        }
        else if (url.Kind == HlsUrlKind.IFramePlaylist)
        {
            await IFramePlaylistAsync(context, point, track, url.Fmp4 ? HlsFormat.Fmp4 : HlsFormat.Ts, rest, anchor, shift).ConfigureAwait(false);
        }
        else if (url.Kind == HlsUrlKind.Playlist)
        {
            var format = url.Fmp4 ? HlsFormat.Fmp4 : HlsFormat.Ts;
            var window = point.DvrWindowSeconds(registry.Options.DvrWindowSeconds);
            var reload = default(BlockingReload);
            string? invalid = null;
            if (context.Request.QueryString.HasValue && !BlockingReload.TryParse(context.Request.Query, out reload, out invalid))
            {
                await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, invalid!).ConfigureAwait(false);
                return;
            }

            if (reload.Msn is not null && format == HlsFormat.Fmp4 && !await HoldAsync(context, reload, point, track).ConfigureAwait(false))
            {
                return;
            }

            // A delta update applies to the live playlist only (a shifted one is made whole): no key of its own there.
            var skip = reload.Skip && format == HlsFormat.Fmp4 && shift.IsNone;
            var key = skip ? rest + "?skip" : rest;
            int? maxAge = reload.Msn is null ? null : BlockingReload.CacheSeconds;
            await (RenderedResponses.TryServeCached(context, point, key, shift, maxAge)
                ?? MediaAsync(context, point, key, new MediaRequest(track, format, window, anchor, shift, skip), maxAge)).ConfigureAwait(false);
        }
        else if (url.Kind == HlsUrlKind.Part)
        {
            await PartAsync(context, point, track, url.Sequence, url.Part).ConfigureAwait(false);
        }
        else if (url.Kind == HlsUrlKind.Segment)
        {
            var format = url.Fmp4 ? HlsFormat.Fmp4 : HlsFormat.Ts;
            if ((url.Extension == "aac") != (format == HlsFormat.Ts && track.Description.Kind == TrackKind.Audio))
            {
                await Problems.WriteAsync(context, StatusCodes.Status404NotFound, ".ts segments are video (with its audio), .aac segments audio alone").ConfigureAwait(false);
                return;
            }

            await SegmentAsync(context, point, track, format, url.Sequence).ConfigureAwait(false);
        }
        else if (url.Kind == HlsUrlKind.TimedSegment)
        {
            await TimedSegmentAsync(context, point, track, url.Sequence).ConfigureAwait(false);
        }
        else if (url.Kind == HlsUrlKind.Init && track.Last is not null)
        {
            await InitAsync(context, point, track).ConfigureAwait(false);
        }
        else
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "unknown HLS resource").ConfigureAwait(false);
        }
    }

    private static Task RefuseHoldAsync(HttpContext context)
    {
        context.Response.Headers.RetryAfter = "1";
        return Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, HeldRequests.Refusal);
    }

    /// <summary>Holds a blocking reload until its part exists: false when it was answered with a problem instead.</summary>
    private async Task<bool> HoldAsync(HttpContext context, BlockingReload reload, Point point, Track track)
    {
        int answer;
        if (!held.TryEnter(context.Connection.RemoteIpAddress, out var holding))
        {
            await RefuseHoldAsync(context).ConfigureAwait(false);
            return false;
        }

        using (holding)
        {
            answer = await reload.WaitAsync(point, track, registry.Time, context.RequestAborted).ConfigureAwait(false);
        }

        if (answer == StatusCodes.Status200OK)
        {
            return true;
        }

        await Problems.WriteAsync(context, answer, answer switch
        {
            StatusCodes.Status400BadRequest => "_HLS_msn is more than two segments, or _HLS_part more than the advance part limit, past the live edge",
            StatusCodes.Status404NotFound => "the point was deleted",
            _ => "the asked part did not arrive in time",
        }).ConfigureAwait(false);
        return false;
    }

    // The renders below are separate methods so that HandleAsync captures nothing: their closures are made only on a
    // render, not for every request the output cache answers.
    private Task MasterAsync(HttpContext context, Point point, string rest, TimeShift shift)
    {
        var format = rest == "master.m3u8" ? HlsFormat.Ts : HlsFormat.Fmp4;
        // A time-shifted master hands its query to the media playlists it lists (a CDN's token with it), so it is kept
        // under that query; the other shifted answers depend only on the times asked for.
        var query = shift.IsNone ? string.Empty : QueryForUris(context.Request.QueryString.Value);
        var window = point.State == PointState.Vod ? 0 : point.DvrWindowSeconds(registry.Options.DvrWindowSeconds);
        return PlaylistAsync(context, point, rest + query, shift, () => HlsPlaylistBuilder.Master(point, format, window) is { } m ? WithQuery(MasterPlaylistWriter.Write(m), query) : null);
    }

    private readonly record struct MediaRequest(Track Track, HlsFormat Format, int Window, DateTimeOffset Anchor, TimeShift Shift, bool Skip);

    private static Task MediaAsync(HttpContext context, Point point, string key, MediaRequest asked, int? maxAge) =>
        PlaylistAsync(context, point, key, asked.Shift,
            () => HlsPlaylistBuilder.Media(point, asked.Track, asked.Format, asked.Window, asked.Anchor, asked.Shift, asked.Skip) is { } m ? MediaPlaylistWriter.Write(m) : null,
            maxAge);

    private async Task InitAsync(HttpContext context, Point point, Track track)
    {
        var bytes = await cache.GetOrProduceAsync(new HlsSegmentKey(point, track.Key, HlsFormat.Fmp4, -1), 4096,
            () => Task.FromResult(HlsPackager.InitSegment(track) ?? throw new InvalidOperationException("no initialization data yet")))
            .WaitAsync(context.RequestAborted).ConfigureAwait(false);
        context.Response.Headers.CacheControl = Immutable;
        await SegmentResponses.SegmentAsync(context, Mp4ContentType, bytes).ConfigureAwait(false);
    }

    /// <summary>An I-frame playlist; for TS, the keyframe ranges of the listed segments are computed first (once each).</summary>
    /// <remarks>
    /// The ranges are looked for only when the answer is not cached already, on the pool, and stop when the client who
    /// asked goes: for the live window before the render, for this request alone; for a time-shifted playlist (which
    /// may span a whole archive) by the request that leads its render, shared with those waiting for it, before its turn
    /// of the render gate, which a whole-archive scan held for minutes (the render itself scans at most the few newest
    /// segments listed since).
    /// </remarks>
    private async Task IFramePlaylistAsync(HttpContext context, Point point, Track track, HlsFormat format, string rest, DateTimeOffset anchor, TimeShift shift)
    {
        if (track.Description.Kind != TrackKind.Video)
        {
            // (before any work: an audio track's keyframe ranges cannot be made, so no answer would ever be cached)
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "I-frame playlists are of video renditions").ConfigureAwait(false);
            return;
        }

        if (RenderedResponses.TryServeCached(context, point, rest, shift, null) is { } cached)
        {
            await cached.ConfigureAwait(false);
            return;
        }

        var window = point.DvrWindowSeconds(registry.Options.DvrWindowSeconds);
        if (format == HlsFormat.Ts && shift.IsNone)
        {
            await KeyframeRangesAsync(point, track, window, anchor, shift, context.RequestAborted).ConfigureAwait(false);
        }

        var scan = format == HlsFormat.Ts && !shift.IsNone;
        await PlaylistAsync(context, point, rest, shift, () =>
        {
            if (scan)
            {
                // What the index gained between the scan and this turn (a live start-over's newest segments) only.
                KeyframeRangesAsync(point, track, window, anchor, shift, CancellationToken.None, NewestSteps).GetAwaiter().GetResult();
            }

            return HlsPlaylistBuilder.IFrames(point, track, format, window, anchor, shift) is { } m ? MediaPlaylistWriter.Write(m) : null;
        }, prepare: scan ? cancellation => KeyframeRangesAsync(point, track, window, anchor, shift, cancellation) : null).ConfigureAwait(false);
    }

    private const int NewestSteps = 16;

    // Each segment's range is computed once (a read and a mux of its first frame) on the pool, one segment at a time per
    // track and across the server: concurrent requests for a long archive's I-frame playlist (start-over) wait for one
    // another's work instead of all doing it, and no scan holds up another's next segment (a live I-frame playlist
    // behind a start-over's whole-archive scan) or the disk for longer than a segment.
    private static async Task KeyframeRangesAsync(Point point, Track track, int window, DateTimeOffset anchor, TimeShift shift, CancellationToken cancellationToken,
        int maxSteps = int.MaxValue)
    {
        await Transport.EventLoop.ToPoolAsync().ConfigureAwait(false); // a VOD's or a start-over's list is the whole index
        if (HlsPlaylistBuilder.Media(point, track, HlsFormat.Ts, window, anchor, shift, skip: false) is not { Segments: [var oldest, ..] } media)
        {
            return;
        }

        var fragments = track.SnapshotFromSequence(oldest.Sequence);
        var turn = _keyframeTurns.GetValue(track, static _ => new SemaphoreSlim(1, 1));
        var live = point.State != PointState.Vod;
        var steps = 0;
        for (var i = media.Segments.Count - 1; i >= 0 && steps < maxSteps; i--)
        {
            // A gap's media is lost: the I-frame playlist leaves it out. Newest first: the segments a bounded scan of a
            // render finds missing are those that came after the scan before it.
            var segment = media.Segments[i];
            if (segment.Gap || Track.IndexOf(fragments, segment.Sequence) is not (>= 0 and var index) || fragments[index].TsKeyframeEnd is not null)
            {
                continue;
            }

            steps++;

            await _keyframeScans.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await turn.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    if (fragments[index].TsKeyframeEnd is null)
                    {
                        var audio = TsAudio.For(point, track, fragments[index], live);
                        await HlsPackager.TsKeyframeEndAsync(point, track, audio, fragments, index, cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    turn.Release();
                }
            }
            finally
            {
                _keyframeScans.Release();
            }
        }
    }

    /// <summary>A produced segment, immutable, and its lease given back after the answer.</summary>
    private static async Task AnswerAsync(HttpContext context, string contentType, ReadySegment segment)
    {
        try
        {
            context.Response.Headers.CacheControl = Immutable;
            await SegmentResponses.SegmentAsync(context, contentType, segment).ConfigureAwait(false);
        }
        finally
        {
            segment.Release();
        }
    }

    private async Task SegmentAsync(HttpContext context, Point point, Track track, HlsFormat format, long sequence)
    {
        var key = new HlsSegmentKey(point, track.Key, format, sequence);
        var packedAudio = format == HlsFormat.Ts && track.Description.Kind == TrackKind.Audio;
        var contentType = packedAudio ? PackedAudioContentType : format == HlsFormat.Ts ? TsContentType : Mp4ContentType;
        AnswerNote.Of(context)?.Cached(cache, key);
        if (cache.TryGetReady(key, out var ready))
        {
            await AnswerAsync(context, contentType, ready).ConfigureAwait(false);
            return;
        }

        // The segment and the one after it: available (its audio arrived) when the segment's end is.
        var fragments = track.SnapshotSegment(sequence, out var open, out var openParts, out var gone);
        if (format == HlsFormat.Fmp4 && sequence == open && track.LongestPart > 0 && point.State != PointState.Vod)
        {
            await StreamOpenSegmentAsync(context, point, track, sequence, openParts.Length).ConfigureAwait(false);
            return;
        }

        var live = point.State != PointState.Vod;
        var audio = format == HlsFormat.Ts && !packedAudio && fragments.Length > 0 ? TsAudio.For(point, track, fragments[0], live) : null;
        var available = format == HlsFormat.Ts && !packedAudio
            ? HlsTimeline.Available(fragments, track.Description.Timescale, audio, live)
            : fragments.Length;
        const int index = 0;
        if (available == 0)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, gone ? "segment no longer archived" : "no such segment (yet)").ConfigureAwait(false);
            return;
        }

        var entry = fragments[index];
        var produced = await cache.GetOrProduceSegmentAsync(key, entry.Length * 2L, async () => packedAudio
                ? FragmentBuffer.Wrap(await HlsPackager.PackedAudioAsync(track, entry, CancellationToken.None).ConfigureAwait(false))
                : format == HlsFormat.Ts
                ? await HlsPackager.TsSegmentAsync(point, track, audio, fragments, index, sequence, CancellationToken.None).ConfigureAwait(false)
                : FragmentBuffer.Wrap(await HlsPackager.Fmp4SegmentAsync(point, track, entry, sequence, CancellationToken.None).ConfigureAwait(false)),
            context.Connection.RemoteIpAddress, context.RequestAborted).ConfigureAwait(false);
        await AnswerAsync(context, contentType, produced).ConfigureAwait(false);
    }

    /// <summary>
    /// An fMP4 segment named by its S@t (a static MPD addresses segments by time, so a gap in their numbering does not cut
    /// what it lists): the same segment, cached under its number.
    /// </summary>
    private Task TimedSegmentAsync(HttpContext context, Point point, Track track, long liftedTime)
    {
        // Less than the lift is a time before 0 (an AAC track's priming): still a time a segment may start at.
        var lift = HlsPackager.TimeOffsetSeconds * (long)track.Description.Timescale;
        return track.Find(liftedTime - lift, 0, out _) is { } entry
            ? SegmentAsync(context, point, track, HlsFormat.Fmp4, entry.Sequence)
            : Problems.WriteAsync(context, StatusCodes.Status404NotFound, "no segment starts at that time");
    }

    /// <summary>
    /// One part: of a complete segment (from its fragment's samples), of the segment being built (from the chunk as it
    /// came), or the next one the playlist hinted at, held until it arrives (404 if the segment ends without it).
    /// </summary>
    private async Task PartAsync(HttpContext context, Point point, Track track, long sequence, int part)
    {
        var key = new HlsSegmentKey(point, track.Key, HlsFormat.Fmp4, sequence, part);
        AnswerNote.Of(context)?.Cached(cache, key);
        if (cache.TryGetReady(key, out var ready))
        {
            await AnswerAsync(context, Mp4ContentType, ready).ConfigureAwait(false);
            return;
        }

        // The notifier is taken before each look: a part indexed between the look and the wait completes it.
        var changed = track.Changed;
        var fragments = track.SnapshotSegment(sequence, out var open, out var openParts, out _);
        using var timeout = new CancellationTokenSource(BlockingReload.HoldLimit(track.Newest(8), track.Description.Timescale), registry.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, context.RequestAborted);
        var waits = sequence == open && part == openParts.Length && point.State != PointState.Vod && !point.Retired;
        HeldRequests.Scope holding = default;
        if (waits && !held.TryEnter(context.Connection.RemoteIpAddress, out holding))
        {
            await RefuseHoldAsync(context).ConfigureAwait(false);
            return;
        }

        using (holding)
        {
            while (sequence == open && part == openParts.Length && point.State != PointState.Vod && !point.Retired)
            {
                try
                {
                    await changed.WaitAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
                {
                    await Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "the hinted part did not arrive in time").ConfigureAwait(false);
                    return;
                }

                changed = track.Changed;
                fragments = track.SnapshotSegment(sequence, out open, out openParts, out _);
            }
        }

        // The cache keeps its bound on the sizes it is given: a part is at most its segment's bytes, or its chunk's, and a
        // little header (a flat guess let parts of large keyframes hold many times the bound).
        Func<Task<byte[]>>? produce = null;
        long size = 0;
        if (fragments is [var entry, ..])
        {
            if (entry.Parts is { } parts && part < parts.Count)
            {
                produce = async () => (await HlsPackager.Fmp4PartAsync(track, entry, sequence, part, CancellationToken.None).ConfigureAwait(false))!;
                size = (entry.Length / parts.Count) + PartHeaderRoom; // its share; a larger part (a keyframe's) counts its excess once made
            }
        }
        else if (sequence == open && part < openParts.Length)
        {
            var chunk = openParts[part];
            produce = () => Task.FromResult(HlsPackager.Fmp4OpenPart(track, chunk, sequence, part));
            size = chunk.Bytes.Length + PartHeaderRoom;
        }

        if (produce is null)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "no such part").ConfigureAwait(false);
            return;
        }

        var produced = await cache.GetOrProduceSegmentAsync(key, size, produce, context.Connection.RemoteIpAddress, context.RequestAborted).ConfigureAwait(false);
        await AnswerAsync(context, Mp4ContentType, produced).ConfigureAwait(false);
    }

    /// <summary>
    /// The segment being built (low-latency DASH asks for it early): its parts as they arrive, chunked, to the segment's
    /// end; the same bytes as the complete segment. Not cached by anyone: the complete segment is.
    /// </summary>
    private async Task StreamOpenSegmentAsync(HttpContext context, Point point, Track track, long sequence, int available)
    {
        var response = context.Response;
        if (!held.TryEnter(context.Connection.RemoteIpAddress, out var holding))
        {
            await RefuseHoldAsync(context).ConfigureAwait(false);
            return;
        }

        using var scope = holding;
        if (available == 0 && !await WaitForFirstPartAsync(context, point, track, sequence).ConfigureAwait(false))
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "no such segment (yet)").ConfigureAwait(false);
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = Mp4ContentType;
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no"; // a proxy passes the chunks on as they come
        var sent = 0;
        var timeout = BlockingReload.HoldLimit(track.Newest(8), track.Description.Timescale);
        var ended = false;
        while (!context.RequestAborted.IsCancellationRequested)
        {
            var changed = track.Changed;
            var fragments = track.SnapshotSegment(sequence, out var open, out var openParts, out _);
            if (sequence < open)
            {
                await FinishCompletedAsync(context, track, fragments, sequence, sent).ConfigureAwait(false);
                return;
            }

            if (sequence != open)
            {
                context.Abort();
                return;
            }

            if (openParts.Length < sent)
            {
                context.Abort(); // its parts were dropped (the segment was refused): it will not be whole
                return;
            }

            for (; sent < openParts.Length; sent++)
            {
                await response.Body.WriteAsync(HlsPackager.Fmp4OpenPart(track, openParts[sent], sequence, sent), context.RequestAborted).ConfigureAwait(false);
            }

            await response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            if (point.Retired || (point.State == PointState.Vod && ended))
            {
                context.Abort();
                return;
            }

            if (point.State == PointState.Vod)
            {
                ended = true; // one more look: the stream's end completes the segment
                continue;
            }

            try
            {
                await changed.WaitAsync(timeout, registry.Time, context.RequestAborted).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                context.Abort(); // the segment did not go on
                return;
            }
        }
    }

    // The streamed segment is complete: the rest of its parts, from the indexed fragment; aborted when they cannot follow
    // what was sent (a clean end of the chunked body would say the segment was whole).
    private static async Task FinishCompletedAsync(HttpContext context, Track track, FragmentEntry[] fragments, long sequence, int sent)
    {
        if (Track.IndexOf(fragments, sequence) is not (>= 0 and var index))
        {
            context.Abort(); // gone from the window
            return;
        }

        var entry = fragments[index];
        if (entry.Parts is not { Count: > 0 } parts || parts.Count < sent)
        {
            context.Abort(); // completed by another encoder of the track, without the parts sent
            return;
        }

        for (var p = sent; p < parts.Count; p++)
        {
            await context.Response.Body.WriteAsync(await HlsPackager.Fmp4PartAsync(track, entry, sequence, p, context.RequestAborted).ConfigureAwait(false), context.RequestAborted).ConfigureAwait(false);
        }
    }

    // Nothing of the segment yet: false if its first part did not come within the hold.
    private async Task<bool> WaitForFirstPartAsync(HttpContext context, Point point, Track track, long sequence)
    {
        var limit = BlockingReload.HoldLimit(track.Newest(8), track.Description.Timescale);
        using var wait = new CancellationTokenSource(limit, registry.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(wait.Token, context.RequestAborted);
        try
        {
            var changed = track.Changed;
            while (!Started(track, sequence) && point.State != PointState.Vod && !point.Retired)
            {
                await changed.WaitAsync(linked.Token).ConfigureAwait(false);
                changed = track.Changed;
            }

            return Started(track, sequence); // not when the point ended or went away without it
        }
        catch (OperationCanceledException) when (wait.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            return false;
        }
    }

    // Whether segment sequence has a part or is complete (not the open segment still waiting for its first part).
    private static bool Started(Track track, long sequence)
    {
        track.Edge(out var open, out var parts);
        return sequence != open || parts > 0;
    }

    /// <summary>
    /// A query as it may stand in a playlist's URI line or quoted URI attribute: what a client sent is echoed, so anything
    /// else than the characters URIs are made of (a raw '"' would end the attribute and start one of the client's
    /// choosing) is percent-encoded, its UTF-8 bytes each.
    /// </summary>
    internal static string QueryForUris(string? query)
    {
        if (string.IsNullOrEmpty(query))
        {
            return string.Empty;
        }

        if (!query.AsSpan().ContainsAnyExcept(_uriCharacters))
        {
            return query;
        }

        var text = new System.Text.StringBuilder(query.Length + 16);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in query.EnumerateRunes())
        {
            if (rune.IsAscii && _uriCharacters.Contains((char)rune.Value))
            {
                text.Append((char)rune.Value);
                continue;
            }

            foreach (var b in utf8[..rune.EncodeToUtf8(utf8)])
            {
                text.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return text.ToString();
    }

    // RFC 3986's unreserved and reserved characters, and '%' (the client's own escapes are kept as they are).
    private static readonly System.Buffers.SearchValues<char> _uriCharacters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%");

    private static string WithQuery(string master, string query)
    {
        if (query.Length == 0)
        {
            return master;
        }

        var lines = master.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                lines[i] = line + query;
            }
            else if ((line.StartsWith("#EXT-X-MEDIA:", StringComparison.Ordinal) || line.StartsWith("#EXT-X-I-FRAME-STREAM-INF:", StringComparison.Ordinal))
                && line.Contains(".m3u8\"", StringComparison.Ordinal))
            {
                lines[i] = line.Replace(".m3u8\"", ".m3u8" + query + "\"", StringComparison.Ordinal);
            }
        }

        return string.Join('\n', lines);
    }

    private static Task PlaylistAsync(HttpContext context, Point point, string resource, TimeShift shift, Func<string?> render, int? maxAge = null,
        Func<CancellationToken, Task>? prepare = null) =>
        RenderedResponses.ServeAsync(context, point, resource, shift, maxAge, version =>
        {
            var text = render();
            if (text is null)
            {
                return null;
            }

            // A low-latency playlist changes with every part: revalidated (ETag) on every plain reload.
            var maxAge = !shift.SeesLive(point) ? TimeShift.FinishedMaxAge(point, shift)
                : text.Contains("#EXT-X-PART-INF", StringComparison.Ordinal) ? 0
                : Math.Max(0, TargetDuration(text) / 2);
            var bytes = Encoding.UTF8.GetBytes(text);
            return new RenderedOutput(version, bytes, RenderedResponses.ETag('h', version, resource, shift, bytes), maxAge, PlaylistContentType);
        }, prepare);

    // A master playlist has no target duration: it changes rarely, a second of caching is harmless either way.
    private static int TargetDuration(string playlist)
    {
        const string Tag = "#EXT-X-TARGETDURATION:";
        var at = playlist.IndexOf(Tag, StringComparison.Ordinal);
        if (at < 0)
        {
            return 2;
        }

        var end = playlist.IndexOf('\n', at);
        return int.Parse(playlist.AsSpan(at + Tag.Length, end - at - Tag.Length), NumberStyles.None, CultureInfo.InvariantCulture);
    }
}
