using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Delivery;
using PublishingPoint.Server.Delivery.Dash;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Delivery.Smooth;
using PublishingPoint.Server.Ingest;
using PublishingPoint.Server.Ingest.Segments;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Hosting;

/// <summary>
/// Everything under <c>/{point}.isml/</c>: splits off the point, checks it is a safe name, and hands the
/// rest of the URL to the ingest or delivery handler it names. Smooth URLs have parentheses and '='
/// in their segments, which route templates do not express well, hence one catch-all and these patterns.
/// </summary>
internal sealed partial class PointRequestRouter(
    PointRegistry registry,
    IngestEndpoint ingest,
    ContinuedIngest continued,
    SegmentIngestEndpoint segments,
    SmoothDelivery smooth,
    HlsDelivery hls,
    DashDelivery dash,
    ILogger<PointRequestRouter> logger)
{
    private readonly Ingest.RequestRefusals _refusals = new(logger);
    private readonly PlaybackFailures _failures = new(logger);

    public async Task HandleAsync(HttpContext context)
    {
        if (TryFindPlayback(context, out var found, out var foundRest))
        {
            await PlayAsync(context, found, foundRest).ConfigureAwait(false);
            return;
        }

        var requestPath = context.Request.Path.Value ?? string.Empty;
        var signed = PlaybackSignature.TrySplit(requestPath, out var expiry, out var signature, out var unsigned);
        requestPath = unsigned;
        if (!PointPath.TrySplit(requestPath, out var path, out var rest, out var error))
        {
            var status = error is null ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest;
            if (error is not null)
            {
                _refusals.Refused(status, error, PointPath.Truncate(requestPath ?? string.Empty));
            }

            await Problems.WriteAsync(context, status, error ?? "not found").ConfigureAwait(false);
            return;
        }

        var method = context.Request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
        {
            if (await SignatureAcceptedAsync(context, path, signed, expiry, signature).ConfigureAwait(false))
            {
                await PlayAsync(context, path, rest).ConfigureAwait(false);
            }

            return;
        }

        if (!await AuthorizeIngestAsync(context, path).ConfigureAwait(false))
        {
            return;
        }

        // One stream as successive requests: PUT to Streams(id), or a POST that says which bytes it carries.
        if (StreamsUrl().IsMatch(rest) && (HttpMethods.IsPut(method) || (HttpMethods.IsPost(method) && context.Request.Headers.ContentRange.Count > 0)))
        {
            await IngestAsync(context, path, rest, continuedPieces: true).ConfigureAwait(false);
            return;
        }

        if (HttpMethods.IsPost(method) && (StreamsUrl().IsMatch(rest) || LegacyUrl().IsMatch(rest)))
        {
            await IngestAsync(context, path, rest).ConfigureAwait(false);
            return;
        }

        if (HttpMethods.IsPut(method) || HttpMethods.IsPost(method) || HttpMethods.IsDelete(method))
        {
            await segments.HandleAsync(context, path, rest).ConfigureAwait(false);
            return;
        }

        await Problems.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, $"{PointPath.Truncate(method)} is not a method of publishing points").ConfigureAwait(false);
    }

    /// <summary>With a PlaybackSigningKey, playback needs a valid signed URL: refused with 403 otherwise.</summary>
    private async Task<bool> SignatureAcceptedAsync(HttpContext context, PointPath path, bool signed, long expiry, string signature)
    {
        var signingKey = registry.Options.PlaybackSigningKey;
        if (string.IsNullOrEmpty(signingKey))
        {
            return true;
        }

        string? problem = "playback needs a signed URL: /s/{expiry}/{signature}/{point}/...";
        if (signed && PlaybackSignature.Verify(signingKey, path.Value, expiry, signature, registry.Time.GetUtcNow(), out problem))
        {
            return true;
        }

        _refusals.Refused(StatusCodes.Status403Forbidden, problem ?? "bad signature", path.Value);
        await Problems.WriteAsync(context, StatusCodes.Status403Forbidden, problem ?? "bad signature").ConfigureAwait(false);
        return false;
    }

    /// <summary>
    /// A player's GET or HEAD of an unsigned path under a point that exists ("/live/ch1.isml/..."): the point is found
    /// from the path's characters (it was checked when it was made), so nothing is split, trimmed or parsed again.
    /// False leaves the request to <see cref="HandleAsync"/>, which says why it is refused when it is.
    /// </summary>
    public bool TryFindPlayback(HttpContext context, [NotNullWhen(true)] out Point? point, out string rest)
    {
        rest = string.Empty;
        if (FindPlayback(context, out var restStart) is not { } found)
        {
            point = null;
            return false;
        }

        point = found;
        rest = context.Request.Path.Value![restStart..];
        return true;
    }

    /// <summary>A player's request: one <see cref="TryFindPlayback"/> would find, or a GET or HEAD of a signed playback path.</summary>
    public bool IsPlayback(HttpContext context) =>
        FindPlayback(context, out _) is not null
        || (IsRead(context) && context.Request.Path.Value is { } path && path.StartsWith(PlaybackSignature.Prefix, StringComparison.Ordinal));

    private static bool IsRead(HttpContext context) => HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method);

    private Point? FindPlayback(HttpContext context, out int restStart)
    {
        restStart = 0;
        var requestPath = context.Request.Path.Value;
        if (requestPath is not { Length: > 1 } || requestPath[0] != '/' || requestPath.StartsWith(PlaybackSignature.Prefix, StringComparison.Ordinal)
            || !IsRead(context))
        {
            return null;
        }

        // Found as PointPath.TrySplit finds it (any casing), so a name the router would refuse is not played here either.
        var end = requestPath.IndexOf(PointPath.Extension + "/", StringComparison.OrdinalIgnoreCase);
        if (end < 0 || registry.Find(requestPath.AsSpan(1, end + PointPath.Extension.Length - 1)) is not { } found)
        {
            return null;
        }

        restStart = end + PointPath.Extension.Length + 1;
        return found;
    }

    /// <summary>What <see cref="TryFindPlayback"/> found, answered as <see cref="HandleAsync"/> would (signature first).</summary>
    public async Task PlayAsync(HttpContext context, Point point, string rest)
    {
        if (await SignatureAcceptedAsync(context, point.Path, false, 0, string.Empty).ConfigureAwait(false))
        {
            await PlayAsync(context, point.Path, rest, point).ConfigureAwait(false);
        }
    }

    private async Task PlayAsync(HttpContext context, PointPath path, string rest, Point? point = null)
    {
        point ??= registry.Find(path);
        if (point is null)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, $"no publishing point {path}").ConfigureAwait(false);
            return;
        }

        try
        {
            if (rest.Equals("Manifest", StringComparison.OrdinalIgnoreCase))
            {
                await smooth.ManifestAsync(context, point).ConfigureAwait(false);
            }
            else if (SmoothUrl.TryParse(rest, out var smoothUrl))
            {
                var key = new TrackKey(smoothUrl.Name, smoothUrl.Bitrate);
                await (smoothUrl.IsInit ? SmoothDelivery.InitAsync(context, point, key) : smooth.FragmentAsync(context, point, key, smoothUrl.Time, smoothUrl.IsInfo)).ConfigureAwait(false);
            }
            else if (HlsDelivery.Handles(rest))
            {
                await hls.HandleAsync(context, point, rest).ConfigureAwait(false);
            }
            else if (rest == DashDelivery.RelativeTimeUrl)
            {
                await DashDelivery.TimeAsync(context).ConfigureAwait(false);
            }
            else if (DashDelivery.Handles(rest))
            {
                await dash.ManifestAsync(context, point).ConfigureAwait(false);
            }
            else
            {
                await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "unknown resource").ConfigureAwait(false);
            }
        }
        catch (SegmentUnavailableException e) when (!context.Response.HasStarted)
        {
            _refusals.Refused(StatusCodes.Status503ServiceUnavailable, e.Message, path.Value);
            context.Response.Headers.RetryAfter = "2";
            await Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, $"the segment cannot be sent now ({e.Message}): try again").ConfigureAwait(false);
        }
        catch (ArchiveGoneException e) when (!context.Response.HasStarted)
        {
            // A fragment whose archive was deleted after the lookup no longer exists; a listing that read it (sizes
            // for a BANDWIDTH, say) is made again once the index has let go of that archive, a moment later.
            var listing = rest.Equals("Manifest", StringComparison.OrdinalIgnoreCase) || rest.EndsWith(".m3u8", StringComparison.OrdinalIgnoreCase) || DashDelivery.Handles(rest);
            var status = listing ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status404NotFound;
            _refusals.Refused(status, e.Message, path.Value);
            if (listing)
            {
                context.Response.Headers.RetryAfter = "1";
            }

            await Problems.WriteAsync(context, status, listing
                ? "an archive file of this point went away while the answer was made: try again"
                : "the fragment is no longer kept: " + e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when ((e is FormatException or InvalidDataException or NotSupportedException) && !context.Response.HasStarted)
        {
            // Media that was accepted but cannot be repackaged into what was asked (a corrupt sample, say):
            // a clear refusal for this resource, not a server error; everything else of the point still plays.
            _refusals.Refused(StatusCodes.Status422UnprocessableEntity, "cannot repackage: " + e.Message, path.Value);
            await Problems.WriteAsync(context, StatusCodes.Status422UnprocessableEntity, "the stored media cannot be repackaged as this resource: " + e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            await _failures.AnswerAsync(context, path.Value, e).ConfigureAwait(false);
        }
    }

    /// <summary>The point's own ingest secret (an empty one is none), else the server's; and which of them it is, for counting wrong ones.</summary>
    private (string? Secret, string Target) IngestSecretOf(PointPath path) =>
        registry.Find(path)?.Settings.IngestSecret is { Length: > 0 } own
            ? (own, path.Value)
            : (registry.Options.IngestSecret, Configuration.WrongSecrets.ServerIngest);

    /// <summary>
    /// Every request that changes a point (POST, PUT, DELETE of any file or stream) presents the ingest secret: the point's
    /// own, else the server's. Checked here, before any handler, so no ingest method or file type can skip it.
    /// </summary>
    private async Task<bool> AuthorizeIngestAsync(HttpContext context, PointPath path)
    {
        var (secret, target) = IngestSecretOf(path);
        if (IngestAuthorization.Check(context, secret, registry.Options.AllowAnonymousIngest, target, out var denied))
        {
            return true;
        }

        if (string.IsNullOrEmpty(secret))
        {
            var fromAPage = context.Request.Headers.Origin.Count > 0;
            _refusals.Refused(denied, fromAPage ? "ingest from a web page" : "ingest without a secret, relayed or from another address", path.Value, ingest: true);
            await Problems.WriteAsync(context, denied, fromAPage ? IngestAuthorization.FromAWebPage : IngestAuthorization.Relayed).ConfigureAwait(false);
            return false;
        }

        _refusals.Refused(denied, denied == StatusCodes.Status429TooManyRequests ? "ingest from an address barred for wrong secrets" : "ingest without the right secret", path.Value, ingest: true);
        await Problems.WriteAsync(context, denied, denied == StatusCodes.Status429TooManyRequests ? Configuration.WrongSecrets.Refusal : "ingest needs the point's secret: ?token=... or HTTP basic auth").ConfigureAwait(false);
        return false;
    }

    private async Task IngestAsync(HttpContext context, PointPath path, string rest, bool continuedPieces = false)
    {
        string? streamId = null;
        if (StreamsUrl().Match(rest) is { Success: true } streams)
        {
            streamId = streams.Groups["id"].Value;
        }
        else if (LegacyUrl().IsMatch(rest))
        {
            streamId = context.Request.Query["stream_id"].ToString();
            streamId = streamId.Length == 0 ? "default" : streamId;
        }

        if (streamId is null)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "POST to {point}.isml/Streams({id})").ConfigureAwait(false);
            return;
        }

        if (!PointPath.IsSafeSegment(streamId))
        {
            var message = $"stream id '{PointPath.Truncate(streamId)}' is not allowed: use 1-64 of A-Z a-z 0-9 . _ -";
            _refusals.Refused(StatusCodes.Status400BadRequest, message, path.Value, ingest: true);
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, message).ConfigureAwait(false);
            return;
        }

        if (continuedPieces)
        {
            await continued.HandleAsync(context, path, streamId).ConfigureAwait(false);
            return;
        }

        await ingest.HandleStreamAsync(context, path, streamId).ConfigureAwait(false);
    }

    [GeneratedRegex(@"^Streams\((?<id>[^)/]*)\)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex StreamsUrl();

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,64}\.ism$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex LegacyUrl();
}
