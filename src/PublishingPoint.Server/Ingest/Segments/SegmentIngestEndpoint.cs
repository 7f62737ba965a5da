using System.Text;
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
    private const int MaxPlaylistBytes = 1 << 20;
    private readonly RequestRefusals _refusals = new(logger);

    // The encoder's last segment and its final playlist come on connections of their own, one right after the other:
    // on a loaded server the playlist may be read before the segment's request is. The point is finalised once no
    // stream is connected (then at once, by the last segment's end) or this long after the final playlist.
    private static readonly TimeSpan EndSettle = TimeSpan.FromSeconds(2);

    public async Task HandleAsync(HttpContext context, PointPath path, string file)
    {
        if (!IsSafeFile(file))
        {
            var message = $"file name '{PointPath.Truncate(file)}' is not allowed: one or two segments of A-Z a-z 0-9 . _ -";
            _refusals.Refused(StatusCodes.Status400BadRequest, message, path.Value);
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, message).ConfigureAwait(false);
            return;
        }

        if (registry.Find(path) is { } existing && !existing.Settings.Allows(IngestProtocol.Segments))
        {
            _refusals.Refused(StatusCodes.Status403Forbidden, "segmented ingest is not allowed on this point", path.Value);
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
                await PlaylistAsync(context, path, extension).ConfigureAwait(false);
                break;
            case ".mp4" or ".m4s" or ".m4v" or ".m4a" or ".cmfv" or ".cmfa" or ".cmfm":
                await ingest.HandleFmp4Async(context, path, SegmentNaming.StreamId(registry.Find(path), file)).ConfigureAwait(false);
                break;
            case ".ts":
                await ingest.HandleTsAsync(context, path, SegmentNaming.StreamId(registry.Find(path), file, numbered: true)).ConfigureAwait(false);
                break;
            default:
                _refusals.Refused(StatusCodes.Status415UnsupportedMediaType, $"unsupported file type '{extension}'", path.Value);
                await Problems.WriteAsync(context, StatusCodes.Status415UnsupportedMediaType,
                    $"cannot ingest '{extension}' files: push .mp4/.m4s (fMP4) or .ts segments, .m3u8 or .mpd").ConfigureAwait(false);
                break;
        }
    }

    /// <summary>The encoder's playlist: its last version (EXT-X-ENDLIST, or a static MPD) ends the stream.</summary>
    private async Task PlaylistAsync(HttpContext context, PointPath path, string extension)
    {
        var buffer = new MemoryStream();
        var body = context.Request.Body;
        var chunk = new byte[16 * 1024];
        int read;
        // Not RequestAborted: ffmpeg half-closes once the body is sent, which aborts the request early.
        while ((read = await body.ReadAsync(chunk, CancellationToken.None).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxPlaylistBytes)
            {
                await Problems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "playlist over 1 MiB").ConfigureAwait(false);
                return;
            }

            buffer.Write(chunk, 0, read);
        }

        var text = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        var ended = extension == ".m3u8" ? text.Contains("#EXT-X-ENDLIST", StringComparison.Ordinal) : IsStaticMpd(text);
        if (ended && registry.Find(path) is { } point)
        {
            point.EndAnnouncedAt = time.GetUtcNow();
            _ = ingest.FinalizeLaterAsync(point, EndSettle);
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
