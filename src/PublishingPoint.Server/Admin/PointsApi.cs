using Microsoft.AspNetCore.Http.HttpResults;
using PublishingPoint.Media.Timing;
using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Delivery;
using PublishingPoint.Server.Hosting;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Admin;

/// <summary>The body of POST /api/points.</summary>
public sealed record CreatePointRequest(
    string Path, int? DvrWindowSeconds, IReadOnlyList<IngestProtocol>? AllowedIngest, string? IngestSecret, bool RestartOnReconnect,
    bool? Archive, int? ArchiveSegmentSeconds, int? ArchiveLengthSeconds);

/// <summary>The body of POST /api/clips: the source point, the clip's own point path, and wall-clock start and end (ISO 8601 or Unix seconds).</summary>
public sealed record CreateClipRequest(string Source, string Path, string Start, string End);

/// <summary>
/// The operator REST API under /api (documented by the OpenAPI document at /openapi/v1.json). Points are named by
/// their path, e.g. <c>/api/points/live/ch1.isml</c>; actions are POSTed to <c>.../close</c>, <c>.../open</c> and
/// <c>.../flush</c>. Every change is idempotent and logged by the registry.
/// </summary>
internal static class PointsApi
{
    public static void Map(IEndpointRouteBuilder endpoints, string? apiKey)
    {
        var api = endpoints.MapGroup("/api").WithMetadata(new AdminAuthorization(apiKey)).WithTags("Publishing points");
        api.MapGet("/status", Status).WithSummary("The server: its data folder, free disk space, and warnings (a disk nearly full)");
        api.MapGet("/points", List).WithSummary("Every point with its state, streams and tracks");
        api.MapPost("/points", CreateAsync).WithSummary("Create a point with its own settings before an encoder connects");
        api.MapGet("/points/{**path}", Get).WithSummary("One point");
        api.MapPost("/points/{**path}", ActAsync).WithSummary("Act on a point: {path}/close (finalise to VOD now, refuse ingest), {path}/open (take ingest again), {path}/flush (write its manifests now), {path}/sign?ttl=seconds (a signed playback URL prefix)");
        api.MapPost("/clips", ClipAsync).WithSummary("Cut a live-to-VOD clip of a point (also while it is live) into a standalone VOD point");
        api.MapDelete("/points/{**path}", DeleteAsync).WithSummary("Close a point and delete it with its files");
    }

    /// <summary>The response of GET /api/status.</summary>
    public sealed record ServerStatus(string DataPath, long? FreeDiskBytes, long MinFreeDiskBytes, int Points, bool PlaybackSigned, IReadOnlyList<string> Warnings);

    private static Ok<ServerStatus> Status(PointRegistry registry)
    {
        var free = registry.FreeDiskBytes();
        var minimum = registry.Options.MinFreeDiskBytes;
        string[] warnings = registry.FreeSpaceUnreadable || free == long.MaxValue
            ? ["the data disk's free space cannot be read (a missing or unreadable data folder); the figure is the last one known"]
            : free < Math.Max(4 * minimum, 1L << 30)
                ? [string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the data disk is nearly full: {free / (1024 * 1024)} MB free (ingest stops being ready under {minimum / (1024 * 1024)} MB)")]
                : [];
        long? known = free == long.MaxValue ? null : free;
        return TypedResults.Ok(new ServerStatus(registry.DataRoot, known, minimum, registry.All.Count, !string.IsNullOrEmpty(registry.Options.PlaybackSigningKey), warnings));
    }

    private static Ok<PointView[]> List(PointRegistry registry) =>
        TypedResults.Ok(registry.All.OrderBy(p => p.Path.Value, StringComparer.Ordinal).Select(p => PointView.Of(p, registry)).ToArray());

    private static Results<Ok<PointView>, ProblemHttpResult> Get(string path, PointRegistry registry)
    {
        if (!PointPath.TryParse(path, out var parsed, out var error))
        {
            return Problems.Result(StatusCodes.Status400BadRequest, error ?? "bad path");
        }

        return registry.Find(parsed) is { } point
            ? TypedResults.Ok(PointView.Of(point, registry))
            : Problems.Result(StatusCodes.Status404NotFound, $"no point {parsed}");
    }

    private static Results<Created<PointView>, Ok<PointView>, ProblemHttpResult> CreateAsync(CreatePointRequest request, PointRegistry registry)
    {
        string? error = null;
        if (request is null || !PointPath.TryParse(request.Path ?? string.Empty, out var path, out error))
        {
            return Problems.Result(StatusCodes.Status400BadRequest, error ?? "path is required, e.g. live/ch1.isml");
        }

        var settings = new PointSettings
        {
            DvrWindowSeconds = request.DvrWindowSeconds,
            AllowedIngest = request.AllowedIngest,
            IngestSecret = string.IsNullOrEmpty(request.IngestSecret) ? null : request.IngestSecret,
            RestartOnReconnect = request.RestartOnReconnect,
            Archive = request.Archive ?? true,
            ArchiveSegmentSeconds = request.ArchiveSegmentSeconds,
            ArchiveLengthSeconds = request.ArchiveLengthSeconds,
        };
        if (settings.Validate() is { } invalid)
        {
            return Problems.Result(StatusCodes.Status400BadRequest, invalid);
        }

        try
        {
            var (point, created) = registry.Create(path, settings);
            var view = PointView.Of(point, registry);
            if (created)
            {
                return TypedResults.Created($"/api/points/{path.Value}", view);
            }

            return point.Settings.SameAs(settings) ? TypedResults.Ok(view) : Problems.Result(StatusCodes.Status409Conflict, $"{path} exists with other settings");
        }
        catch (PointRuleException e)
        {
            return Problems.Result(e);
        }
    }

    /// <summary>The response of POST /api/points/{path}/sign: a base URL to prefix playback URLs with.</summary>
    public sealed record SignedUrl(string Url, DateTimeOffset Expires);

    private static async Task<IResult> ActAsync(string path, int? ttl, PointRegistry registry)
    {
        var slash = path.LastIndexOf('/');
        var action = slash < 0 ? string.Empty : path[(slash + 1)..];
        if (slash < 0 || !PointPath.TryParse(path[..slash], out var parsed, out _))
        {
            return Problems.Result(StatusCodes.Status400BadRequest, "POST /api/points/{path}/close, /open, /flush or /sign");
        }

        if (registry.Find(parsed) is not { } point)
        {
            return Problems.Result(StatusCodes.Status404NotFound, $"no point {parsed}");
        }

        switch (action)
        {
            case "close":
                await registry.CloseAsync(point).ConfigureAwait(false);
                break;
            case "open":
                registry.Open(point);
                break;
            case "flush" when Flush(registry, point) is { } problem:
                return problem;
            case "flush":
                break;
            case "sign" when !string.IsNullOrEmpty(registry.Options.PlaybackSigningKey):
                var expires = registry.Time.GetUtcNow().AddSeconds(Math.Clamp(ttl ?? 3600, 1, 366 * 86400));
                return TypedResults.Ok(new SignedUrl(PlaybackSignature.SignedPrefix(registry.Options.PlaybackSigningKey, parsed.Value, expires.ToUnixTimeSeconds()), expires));
            case "sign":
                return Problems.Result(StatusCodes.Status400BadRequest, "no PublishingPoint:PlaybackSigningKey is configured: playback is open");
            default:
                return Problems.Result(StatusCodes.Status400BadRequest, $"unknown action '{PointPath.Truncate(action)}': close, open, flush or sign");
        }

        return TypedResults.Ok(PointView.Of(point, registry));
    }

    private static ProblemHttpResult? Flush(PointRegistry registry, Point point)
    {
        try
        {
            return registry.Flush(point) ? null : Problems.Result(StatusCodes.Status404NotFound, "the point was deleted or replaced meanwhile");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // logged by the registry; the archive itself, flushed fragment by fragment, is not harmed
            return Problems.Result(StatusCodes.Status500InternalServerError, $"the point's manifests could not be written: {e.Message}");
        }
    }

    private static async Task<IResult> ClipAsync(CreateClipRequest request, PointRegistry registry, ClipWriter clips, CancellationToken cancellationToken)
    {
        if (request is null || !PointPath.TryParse(request.Source ?? string.Empty, out var source, out _) || !PointPath.TryParse(request.Path ?? string.Empty, out var target, out _))
        {
            return Problems.Result(StatusCodes.Status400BadRequest, "source and path must be point paths, e.g. live/ch1.isml and clips/goal.isml");
        }

        if (!WallClock.TryParse(request.Start, out var start) || !WallClock.TryParse(request.End, out var end))
        {
            return Problems.Result(StatusCodes.Status400BadRequest, "start and end are ISO 8601 times or Unix seconds");
        }

        if (registry.Find(source) is not { } point)
        {
            return Problems.Result(StatusCodes.Status404NotFound, $"no point {source}");
        }

        if (point.TimelineAnchor is not { } anchor)
        {
            return Problems.Result(StatusCodes.Status409Conflict, $"{source} has no wall-clock timeline yet");
        }

        try
        {
            var clip = await clips.WriteAsync(point, target, (start - anchor).TotalSeconds, (end - anchor).TotalSeconds, cancellationToken).ConfigureAwait(false);
            return TypedResults.Created($"/api/points/{target.Value}", PointView.Of(clip, registry));
        }
        catch (PointRuleException e)
        {
            return Problems.Result(e);
        }
        catch (ArchiveGoneException e)
        {
            return Problems.Result(StatusCodes.Status409Conflict, $"part of that interval is no longer kept ({e.Message}): no clip was made");
        }
        catch (IOException e)
        {
            // The disk refused a write or the rename into place (its half copy is removed): said, not a bare 500.
            return Problems.Result(StatusCodes.Status500InternalServerError, $"the clip could not be written ({e.Message}): no clip was made");
        }
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string path, PointRegistry registry)
    {
        if (!PointPath.TryParse(path, out var parsed, out var error))
        {
            return Problems.Result(StatusCodes.Status400BadRequest, error ?? "bad path");
        }

        await registry.DeleteAsync(parsed).ConfigureAwait(false);
        return TypedResults.NoContent();
    }
}
