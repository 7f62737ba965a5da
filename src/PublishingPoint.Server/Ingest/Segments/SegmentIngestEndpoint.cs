using PublishingPoint.Server.Hosting;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest.Segments;

/// <summary>
/// HLS and DASH pushed over HTTP PUT/POST (DASH-IF live media ingest, interface 2; ffmpeg's
/// <c>-f hls -method PUT</c> and <c>-f dash -method PUT</c>): media files under the point are ingested into
/// the model; playlists and MPDs are read only for the end of the stream (we render our own); DELETE of a
/// retired segment is acknowledged, the archive keeps it.
/// </summary>
internal sealed partial class SegmentIngestEndpoint(PointRegistry registry, IngestEndpoint ingest, TimeProvider time, ILogger<SegmentIngestEndpoint> logger)
{
    private const int MaxPlaylistBytes = 16 << 20;
    private readonly RequestRefusals _refusals = new(logger);

    // The encoder's last segment and its final playlist come on connections of their own, one right after the other:
    // on a loaded server the playlist may be read before the segment's request is. The point is finalised once no
    // stream is connected (then at once, by the last segment's end) or this long after the final playlist.

    public async Task HandleAsync(HttpContext context, PointPath path, string file)
    {
        if (!IsSafeFile(file))
        {
            var message = $"file name '{PointPath.Truncate(file)}' is not allowed: one or two segments of A-Z a-z 0-9 . _ -";
            _refusals.Refused(StatusCodes.Status400BadRequest, message, path.Value, ingest: true);
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, message).ConfigureAwait(false);
            return;
        }

        if (registry.Find(path) is { } existing && !existing.Settings.Allows(IngestProtocol.Segments))
        {
            _refusals.Refused(StatusCodes.Status403Forbidden, "segmented ingest is not allowed on this point", path.Value, ingest: true);
            await Problems.WriteAsync(context, StatusCodes.Status403Forbidden, $"the point does not accept {IngestProtocol.Segments} ingest").ConfigureAwait(false);
            return;
        }

        if (HttpMethods.IsDelete(context.Request.Method))
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        var extension = Path.GetExtension(file).ToLowerInvariant();
        switch (extension)
        {
            case ".m3u8" or ".mpd":
                await PlaylistAsync(context, path, file, extension).ConfigureAwait(false);
                break;
            case ".mp4" or ".m4s" or ".m4v" or ".m4a" or ".cmfv" or ".cmfa" or ".cmfm":
                await ingest.HandleFmp4Async(context, path, SegmentNaming.StreamId(registry.Find(path), file)).ConfigureAwait(false);
                break;
            case ".ts":
                await ingest.HandleTsAsync(context, path, SegmentNaming.StreamId(registry.Find(path), file, numbered: true)).ConfigureAwait(false);
                break;
            default:
                _refusals.Refused(StatusCodes.Status415UnsupportedMediaType, $"unsupported file type '{extension}'", path.Value, ingest: true);
                await Problems.WriteAsync(context, StatusCodes.Status415UnsupportedMediaType,
                    $"cannot ingest '{extension}' files: push .mp4/.m4s (fMP4) or .ts segments, .m3u8 or .mpd").ConfigureAwait(false);
                break;
        }
    }

    /// <summary>
    /// The encoder's playlist: its last version (EXT-X-ENDLIST, or a static MPD) ends the stream. Read as it comes and
    /// scanned, never held whole (an MPD's first 64 KB at most), within the ingest idle timeout between reads and twice it
    /// in all: a body that stalls after a burst would otherwise hold its connection for as long as its average rate
    /// stays above the body-rate floor (a megabyte at 240 B/s: over an hour).
    /// </summary>
    private async Task PlaylistAsync(HttpContext context, PointPath path, string file, string extension)
    {
        var idle = TimeSpan.FromSeconds(registry.Options.IngestIdleTimeoutSeconds);
        using var deadline = new CancellationTokenSource(2 * idle, time);
        var body = new IdleTimeoutPipeReader(context.Request.BodyReader, idle, time);
        var scan = new EncoderPlaylistScan(extension == ".mpd");
        long total = 0;
        try
        {
            while (true)
            {
                // Not RequestAborted: ffmpeg half-closes once the body is sent, which aborts the request early.
                var result = await body.ReadAsync(deadline.Token).ConfigureAwait(false);
                foreach (var memory in result.Buffer)
                {
                    scan.Feed(memory.Span);
                }

                total += result.Buffer.Length;
                body.AdvanceTo(result.Buffer.End);
                if (total > MaxPlaylistBytes)
                {
                    _refusals.Refused(StatusCodes.Status413PayloadTooLarge, "playlist over 16 MiB", path.Value, ingest: true);
                    await Problems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "playlist over 16 MiB").ConfigureAwait(false);
                    return;
                }

                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IdleTimeoutException || (e is OperationCanceledException && deadline.IsCancellationRequested))
        {
            var problem = e is IdleTimeoutException ? $"playlist body stalled: {e.Message}" : $"playlist body not complete in {(2 * idle).TotalSeconds:0} s";
            _refusals.Refused(StatusCodes.Status408RequestTimeout, problem, path.Value, ingest: true);
            await Problems.WriteAsync(context, StatusCodes.Status408RequestTimeout, problem).ConfigureAwait(false);
            return;
        }

        if (scan.Ended && registry.Find(path) is { } point)
        {
            // A media playlist is one stream's (index.m3u8, stream_0/index.m3u8); a name that matches none (an MPD) ends them all.
            var now = time.GetUtcNow();
            var stream = extension == ".m3u8" ? SegmentNaming.StreamId(point, file, numbered: true) : null;
            point.AnnounceEnd(stream, now);
            if (point.EveryStreamEndedWithin(now, TimeSpan.FromSeconds(Math.Max(registry.Options.FinalizeGraceSeconds, IngestEndpoint.EndSettle.TotalSeconds))))
            {
                _ = ingest.FinalizeLaterAsync(point, IngestEndpoint.EndSettle);
            }
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static bool IsSafeFile(string file)
    {
        var parts = file.Split('/');
        return parts.Length is 1 or 2 && parts.All(PointPath.IsSafeSegment);
    }

    /// <summary>
    /// Whether the first MPD element's start tag says type="static" (the encoder ended the presentation). A scan, not a
    /// regular expression: "&lt;MPD[^&gt;]*type=..." backtracks over every "&lt;MPD" of a megabyte without a '&gt;', seconds of CPU.
    /// </summary>
    internal static bool IsStaticMpd(ReadOnlySpan<char> text)
    {
        var start = text.IndexOf("<MPD", StringComparison.Ordinal);
        if (start < 0)
        {
            return false;
        }

        var tag = text[start..];
        var end = tag.IndexOf('>');
        return (end < 0 ? tag : tag[..end]).Contains("type=\"static\"", StringComparison.Ordinal);
    }
}
