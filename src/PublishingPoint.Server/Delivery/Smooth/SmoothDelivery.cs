using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Smooth;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Hosting;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Smooth;

/// <summary>
/// Smooth Streaming delivery (MS-SSTR 2.2): the client manifest, fragments with tfxd/tfrf, and a
/// single-track initialization segment per quality level (an extension for DASH/HLS-style players and tools).
/// </summary>
internal sealed class SmoothDelivery(PointRegistry registry, SegmentCache cache, Hls.HeldRequests held)
{
    public const string ManifestContentType = "text/xml; charset=utf-8";
    public const string FragmentContentType = "video/mp4";

    /// <summary>A fragment after the live edge: not yet available, come back later (distinct from 404).</summary>
    public const int BeyondLiveEdgeStatus = StatusCodes.Status412PreconditionFailed;

    public async Task ManifestAsync(HttpContext context, Point point)
    {
        var now = registry.Time.GetUtcNow();
        if (!TimeShift.TryParse(context.Request, point.Anchor(now), now, out var shift, out var problem))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, problem!).ConfigureAwait(false);
            return;
        }

        await RenderedResponses.ServeAsync(context, point, "Manifest", shift, version =>
        {
            var options = registry.Options;
            var manifest = SmoothManifestBuilder.Build(point, shift.SeesLive(point), point.DvrWindowSeconds(options.DvrWindowSeconds), options.LookAheadFragmentCount, shift);
            if (manifest.Streams.Count == 0)
            {
                return null;
            }

            var bytes = ClientManifestWriter.Write(manifest);
            var maxAge = manifest.IsLive ? HalfShortestChunkSeconds(manifest) : 60;
            return new RenderedOutput(version, bytes, RenderedResponses.ETag('m', version, string.Empty, shift, bytes), maxAge, ManifestContentType);
        }).ConfigureAwait(false);
    }

    /// <param name="info">The fragment's 'moof' alone (a FragmentInfo request): its tfxd and tfrf, no media.</param>
    public async Task FragmentAsync(HttpContext context, Point point, TrackKey key, long time, bool info = false)
    {
        // Read before the lookups: a kept answer holds only at the version its fragment was found in (it is found before
        // the cache is asked, so one that left the window is 404 here while the cache may still hold it).
        var version = point.Version;
        var track = point.FindTrack(key);
        if (track is null)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, $"no quality level {key}").ConfigureAwait(false);
            return;
        }

        // A finished point's fragments still announce the ones after them: a live client (dash.js's Smooth support never
        // reads the manifest again) learns of later fragments only from tfrf, and without it stopped short of the end,
        // with an error for every fragment; a VOD client ignores it.
        var live = point.State != PointState.Vod;
        var lookAhead = registry.Options.LookAheadFragmentCount;
        var fragment = track.Find(time, lookAhead, out var next);
        if (fragment is null && time == 0 && track.First is { Time: < 0 } early && early.End > 0)
        {
            fragment = track.Find(early.Time, lookAhead, out next); // listed from 0 (see SmoothManifestBuilder.ListedChunk)
        }

        if (live && next.Length < lookAhead && !info && fragment is { } edge)
        {
            (fragment, next) = await AwaitLookAheadAsync(context, point, track, edge, next, lookAhead).ConfigureAwait(false);
        }

        if (fragment is null)
        {
            var beyond = live && (track.Last is null || time > track.Last.Time);
            await Problems.WriteAsync(context, beyond ? BeyondLiveEdgeStatus : StatusCodes.Status404NotFound,
                beyond ? "fragment is beyond the live edge: not available yet" : "no fragment starts at that time").ConfigureAwait(false);
            return;
        }

        // Answered from the segment cache: one copy for every player of a fragment (spooled, and sent with sendfile,
        // once it is popular), and none held per player, however slowly it reads.
        var answer = new SmoothFragmentKey(point, track.Key, fragment.Time, next.Length, info);
        if (!cache.TryGetReady(answer, out var ready))
        {
            ready = await cache.GetOrProduceSegmentAsync(answer, fragment.Length + 1024L, () => WriteAsync(fragment, next, info), context.Connection.RemoteIpAddress, context.RequestAborted).ConfigureAwait(false);
        }

        try
        {
            // Complete look-ahead makes the bytes final; otherwise a later request would announce more (a finished point's
            // last fragments too: its encoder may go on, and a cache holding their short tfrf would stop a live client).
            var final = next.Length >= lookAhead;
            context.Response.Headers.CacheControl = final ? "public, max-age=31536000, immutable" : "public, max-age=1";
            if (final)
            {
                AnswerNote.Of(context)?.Cached(cache, answer, version);
            }

            await SegmentResponses.SegmentAsync(context, FragmentContentType, ready).ConfigureAwait(false);
        }
        finally
        {
            ready.Release();
        }
    }

    // A live fragment is answered once it can name the LookAheadFragmentCount fragments after it (held a little while
    // they arrive, as a blocking playlist reload is): a client at the live edge that took the newest fragment with a
    // short tfrf, as dash.js's Smooth support can, learnt of nothing after it and stopped there for good. Past the hold,
    // counted from the arrival of the point's newest media (an encoder that stalled or left: its point stays live for
    // the grace period, and every player would otherwise wait the whole hold for each of the newest fragments), or with
    // the holds of its address used up, it gets what there is.
    private async Task<(FragmentEntry? Fragment, FragmentEntry[] Next)> AwaitLookAheadAsync(
        HttpContext context, Point point, Track track, FragmentEntry fragment, FragmentEntry[] next, int lookAhead)
    {
        var limit = Hls.BlockingReload.HoldLimit(track.Newest(8), track.Description.Timescale);
        var left = point.EdgeArrivedAt is { } arrived ? arrived + limit - registry.Time.GetUtcNow() : limit;
        if (left <= TimeSpan.Zero || !held.TryEnter(context.Connection.RemoteIpAddress, out var holding))
        {
            return (fragment, next);
        }

        using (holding)
        {
            using var timeout = new CancellationTokenSource(left, registry.Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, context.RequestAborted);
            var time = fragment.Time;
            FragmentEntry? found = fragment;
            while (found is not null && next.Length < lookAhead && point.State != PointState.Vod && !point.Retired)
            {
                var changed = track.Changed; // taken before the look: a fragment indexed between the two completes it
                found = track.Find(time, lookAhead, out next);
                if (found is null || next.Length >= lookAhead)
                {
                    break;
                }

                try
                {
                    await changed.WaitAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
                {
                    break;
                }
            }

            return found is null ? (null, []) : (track.Find(time, lookAhead, out next), next);
        }
    }

    private static async Task<FragmentBuffer> WriteAsync(FragmentEntry fragment, FragmentEntry[] next, bool info)
    {
        var following = new (long, long)[next.Length];
        for (var i = 0; i < next.Length; i++)
        {
            following[i] = (next[i].Time, next[i].Duration);
        }

        var listed = SmoothManifestBuilder.ListedChunk(fragment);
        using var stored = await fragment.RentAsync(CancellationToken.None).ConfigureAwait(false);
        var written = SmoothFragmentWriter.Write(stored.Array.AsSpan(0, fragment.Length), fragment.TrafIn(stored.Array), listed.Time, listed.Duration, following, unchecked((uint)(fragment.Sequence + 1)), announce: true);
        return FragmentBuffer.Wrap(info && BoxHeader.TryRead(written, out var moof) && moof.Size <= written.Length ? written[..(int)moof.Size] : written);
    }

    public static async Task InitAsync(HttpContext context, Point point, TrackKey key)
    {
        var track = point.FindTrack(key);
        if (track is null)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, $"no quality level {key}").ConfigureAwait(false);
            return;
        }

        var archive = track.Last?.Archive;
        var moov = archive?.Header.Moov ?? default;
        if (moov.IsEmpty)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "no initialization data yet").ConfigureAwait(false);
            return;
        }

        var bytes = InitSegmentWriter.Write(moov.Span, track.Description.Info);
        context.Response.Headers.CacheControl = "public, max-age=60";
        await Responses.BytesAsync(context, FragmentContentType, bytes).ConfigureAwait(false);
    }

    private static int HalfShortestChunkSeconds(ClientManifest manifest)
    {
        var shortest = long.MaxValue;
        foreach (var stream in manifest.Streams)
        {
            foreach (var chunk in stream.Chunks)
            {
                shortest = Math.Min(shortest, chunk.Duration * ClientManifest.DefaultTimeScale / stream.TimeScale);
            }
        }

        return shortest == long.MaxValue ? 0 : (int)(shortest / 2 / ClientManifest.DefaultTimeScale);
    }
}
