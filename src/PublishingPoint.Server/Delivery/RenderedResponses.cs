using System.Globalization;
using System.IO.Compression;
using Microsoft.Net.Http.Headers;
using PublishingPoint.Server.Hosting;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Manifests, playlists and MPDs: rendered once per index version into the point's <see cref="OutputCache"/> (a
/// time-shifted one into the server's <see cref="ShiftedOutputs"/>), answered with an ETag (304 on a match of
/// If-None-Match), Cache-Control and, when the client accepts it, the gzip copy.
/// </summary>
internal static class RenderedResponses
{
    /// <param name="render">The output for this version, or null when there is nothing to answer yet (404).</param>
    public static Task ServeAsync(HttpContext context, Point point, string key, TimeShift shift, Func<long, RenderedOutput?> render) =>
        ServeAsync(context, point, key, shift, null, render);

    /// <param name="maxAge">Cache-Control max-age for this answer instead of the output's own (a blocking playlist reload).</param>
    /// <param name="prepare">
    /// Work a time-shifted render needs first (reading what it lists from the archive), done by the request that leads
    /// the render (shared with those waiting for it), before its turn of the gate and stopped when that client goes.
    /// </param>
    public static Task ServeAsync(HttpContext context, Point point, string key, TimeShift shift, int? maxAge, Func<long, RenderedOutput?> render,
        Func<CancellationToken, Task>? prepare = null)
    {
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(shift);
        ArgumentNullException.ThrowIfNull(render);
        if (TryServeCached(context, point, key, shift, maxAge) is { } cached)
        {
            return cached;
        }

        var outputs = context.RequestServices.GetRequiredService<ShiftedOutputs>();
        if (!shift.IsNone)
        {
            return ServeInTurnAsync(context, new Keeping(outputs, point, ShiftedOutputs.Key(point, key, shift), Own: false), maxAge, render, prepare);
        }

        // A VOD point's fragments have no sample tables in memory: the first render of a master (BANDWIDTH from the
        // sample sizes) or an I-frame playlist (each segment's first frame) reads every listed fragment's 'moof' from
        // the archive, a whole event's. On the pool behind the render gate, as a time-shifted render, not on an event
        // thread, where a cold disk would hold up every player of that thread; once per version, those asking meanwhile
        // wait for it, and no client's share is counted (a VOD's answers are few, and then kept).
        var own = new Keeping(outputs, point, key, Own: true);
        if (point.State == PointState.Vod)
        {
            return ServeInTurnAsync(context, own, maxAge, render, prepare);
        }

        var output = own.Render(render);
        if (output is not null)
        {
            AnswerNote.Of(context)?.Keyed(key);
        }

        return output is null
            ? Problems.WriteAsync(context, StatusCodes.Status404NotFound, "nothing to play yet")
            : WriteAsync(context, output, maxAge);
    }

    // Where an answer rendered in turn is kept: a time-shifted one in the server's ShiftedOutputs (under its key, which
    // names the times asked for), a point's own in the point's OutputCache.
    private readonly record struct Keeping(ShiftedOutputs Outputs, Point Point, string Key, bool Own)
    {
        // Shifted keys hold '|' and the point's serial; an own answer's flight is told apart by its prefix.
        public string FlightKey => Own ? "own|" + Point.Serial.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/" + Key : Key;

        public UInt128? Client(HttpContext context) => Own ? null : Outputs.ClientOf(context);

        public bool TryGet(long version, out RenderedOutput output) =>
            Own ? Point.Output.TryGet(Key, version, out output) : Outputs.TryGet(Key, version, out output);

        public RenderedOutput? Render(Func<long, RenderedOutput?> render)
        {
            if (!Own)
            {
                return Outputs.Render(Point, Key, render);
            }

            var output = render(Point.Version);
            Outputs.OwnRenders.Count();
            if (output is not null)
            {
                Point.Output.Set(Key, output);
            }

            return output;
        }
    }

    private static Task RefuseAsync(HttpContext context, RenderGate.Refusal refused)
    {
        context.Response.Headers.RetryAfter = "1";
        return refused == RenderGate.Refusal.ClientShare
            ? Problems.WriteAsync(context, StatusCodes.Status429TooManyRequests, "too many time-shifted requests from this client at once: try again")
            : Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "too many renders at once: try again");
    }

    // A time-shifted answer is rendered over as much of the archive as it asks for (start-over from the beginning of a
    // day-long event lists tens of thousands of segments): on the pool, not on an event thread, where it would hold up
    // every player of that thread; and at most half the cores' worth at once (ShiftedOutputs.Gate), so a flood of
    // distinct queries past the gate's queue is refused, and one client's past its share of it. Each is kept for its
    // version (ShiftedOutputs; with a delay, for half a segment at most): the crowd of a start-over or delayed link
    // waits for one render, not in line for its own.
    private static async Task ServeInTurnAsync(HttpContext context, Keeping keeping, int? maxAge, Func<long, RenderedOutput?> render, Func<CancellationToken, Task>? prepare)
    {
        var version = keeping.Point.Version;
        RenderedOutput? output;
        while (!keeping.TryGet(version, out output))
        {
            var under = keeping.Outputs.Board(keeping.FlightKey, version, out var leading, context.RequestAborted);
            if (under is null)
            {
                var led = await LeadAsync(context, keeping, (keeping.FlightKey, version), leading!, render, prepare).ConfigureAwait(false);
                if (!led.Answered)
                {
                    return;
                }

                output = led.Output;
                break;
            }

            if (await under.ConfigureAwait(false) is { Answered: true } joined)
            {
                output = joined.Output;
                break;
            }

            // Its leader was refused or left before its turn: one of those that waited leads now.
        }

        if (keeping.Own && output is not null)
        {
            AnswerNote.Of(context)?.Keyed(keeping.Key);
        }

        await (output is null
            ? Problems.WriteAsync(context, StatusCodes.Status404NotFound, "nothing to play yet")
            : WriteAsync(context, output, maxAge)).ConfigureAwait(false);
    }

    // The render the others asking for it wait for: landed however it ends. An exception is theirs too (the same render
    // would fail again); a refusal or this client leaving leaves them to try again.
    private static async Task<ShiftedOutputs.Flight> LeadAsync(HttpContext context, Keeping keeping,
        (string Key, long Version) asked, TaskCompletionSource<ShiftedOutputs.Flight> leading, Func<long, RenderedOutput?> render, Func<CancellationToken, Task>? prepare)
    {
        var outputs = keeping.Outputs;
        try
        {
            // The leader before may have stored it between this request's look and its boarding.
            ShiftedOutputs.Flight landed;
            if (keeping.TryGet(asked.Version, out var cached))
            {
                landed = new ShiftedOutputs.Flight(true, cached);
            }
            else if (prepare is null)
            {
                landed = await RenderInTurnAsync(context, keeping, render).ConfigureAwait(false);
            }
            else
            {
                var (share, refused) = await outputs.Preparing.EnterAsync(keeping.Client(context), context.RequestAborted).ConfigureAwait(false);
                using (share)
                {
                    if (share is null)
                    {
                        await RefuseAsync(context, refused).ConfigureAwait(false);
                        landed = default;
                    }
                    else
                    {
                        await prepare(context.RequestAborted).ConfigureAwait(false);
                        landed = await RenderInTurnAsync(context, keeping, render).ConfigureAwait(false);
                    }
                }
            }

            outputs.Land(asked, leading, landed);
            return landed;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            outputs.Land(asked, leading, default(ShiftedOutputs.Flight));
            throw;
        }
        catch (Exception e)
        {
            outputs.Fail(asked, leading, e);
            throw;
        }
    }

    // A turn of the gate, then the render (unless the cache has the answer by then); false when refused (answered here).
    private static async Task<ShiftedOutputs.Flight> RenderInTurnAsync(HttpContext context, Keeping keeping, Func<long, RenderedOutput?> render)
    {
        var (turn, refused) = await keeping.Outputs.Gate.EnterAsync(keeping.Client(context), context.RequestAborted).ConfigureAwait(false);
        using var held = turn;
        if (turn is null)
        {
            await RefuseAsync(context, refused).ConfigureAwait(false);
            return default;
        }

        await Transport.EventLoop.ToPoolAsync().ConfigureAwait(false);
        var rendered = keeping.TryGet(keeping.Point.Version, out var output) ? output : keeping.Render(render);
        // In the turn, whoever asks for it (a render led without gzip and followed by requests with it): a start-over's
        // list runs to megabytes, and its gzip costs about as much as its render.
        if (rendered is { HasGzipped: false } && (rendered.Bytes.Length >= InlineGzipBytes || AcceptsGzip(context.Request)))
        {
            rendered.Gzipped(Gzip);
        }

        return new(true, rendered);
    }

    /// <summary>
    /// The answer from the point's output cache when it holds the current version, else null: a caller that checks this
    /// first makes no render callback (nor its closure) for the many requests the cache answers.
    /// </summary>
    public static Task? TryServeCached(HttpContext context, Point point, string key, TimeShift shift, int? maxAge)
    {
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(shift);
        if (!shift.IsNone || !point.Output.TryGet(key, point.Version, out var output))
        {
            return null;
        }

        AnswerNote.Of(context)?.Keyed(key);

        return WriteAsync(context, output, maxAge);
    }

    /// <summary>
    /// The tag of an answer for <paramref name="shift"/>: a delayed one moves with the clock at one version (a window that
    /// gained a segment and lost one keeps its length), so its tag follows its content, else a cache's revalidation got
    /// 304 for a list that had moved on.
    /// </summary>
    public static string ETag(char prefix, long version, string identity, TimeShift shift, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(shift);
        ArgumentNullException.ThrowIfNull(bytes);
        identity += shift.CacheKey;
        if (shift.DelaySeconds > 0)
        {
            identity += "#" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes), 0, 8);
        }

        return ETag(prefix, version, identity, bytes.Length);
    }

    /// <summary>A quoted entity tag from the version, the resource's identity and its length.</summary>
    public static string ETag(char prefix, long version, string identity, int length) =>
        string.Create(CultureInfo.InvariantCulture, $"\"{prefix}{version:x}-{(uint)StringComparer.Ordinal.GetHashCode(identity):x}-{length:x}\"");

    /// <param name="maxAge">This answer's own max-age instead of the output's (not a copy of the output: its gzip copy would be made again for every such answer).</param>
    public static Task WriteAsync(HttpContext context, RenderedOutput output, int? maxAge = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(output);
        var response = context.Response;
        var gzip = AcceptsGzip(context.Request);
        var etag = gzip ? output.GzipETag : output.ETag;
        response.Headers.ETag = etag;
        response.Headers.CacheControl = CacheControl(maxAge ?? output.MaxAge);
        response.Headers.Vary = HeaderNames.AcceptEncoding;
        if (Matches(context.Request, etag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        if (!gzip)
        {
            return Send(context, output, maxAge, output.Bytes);
        }

        response.Headers.ContentEncoding = "gzip";
        return output.HasGzipped || output.Bytes.Length < InlineGzipBytes
            ? Send(context, output, maxAge, output.Gzipped(Gzip))
            : SendGzippedFromThePoolAsync(context, output, maxAge);
    }

    // A playlist's first gzip copy takes about a millisecond per 64 KB: a longer one (a start-over of a long event runs
    // to megabytes) is made once on the pool, not on the event thread that answers every other player of its
    // connections, and the requests that come meanwhile wait for it.
    private const int InlineGzipBytes = 64 * 1024;

    private static async Task SendGzippedFromThePoolAsync(HttpContext context, RenderedOutput output, int? maxAge) =>
        await Send(context, output, maxAge, await output.GzippedAsync(Gzip).ConfigureAwait(false)).ConfigureAwait(false);

    private static Task Send(HttpContext context, RenderedOutput output, int? maxAge, byte[] bytes)
    {
        if (maxAge is null)
        {
            AnswerNote.Of(context)?.Rendered(bytes, output);
        }

        return Responses.BytesAsync(context, output.ContentType, bytes);
    }

    private static readonly string?[] _maxAges = new string?[3601];

    // The header text for each max-age, made once (a playlist is answered thousands of times a second).
    private static string CacheControl(int maxAge) =>
        maxAge <= 0 ? "no-cache"
        : maxAge < _maxAges.Length ? _maxAges[maxAge] ??= Format(maxAge)
        : Format(maxAge);

    private static string Format(int maxAge) => string.Create(CultureInfo.InvariantCulture, $"public, max-age={maxAge}");

    /// <summary>If-None-Match as RFC 9110 reads it: a list of tags, weak or strong (compared weakly), or "*".</summary>
    internal static bool Matches(HttpRequest request, string etag)
    {
        var header = request.Headers.IfNoneMatch;
        if (header.Count == 0)
        {
            return false;
        }

        if (header.Count == 1 && header[0] == etag)
        {
            return true;
        }

        if (!EntityTagHeaderValue.TryParseList(header, out var tags))
        {
            return false;
        }

        var ours = new EntityTagHeaderValue(etag);
        foreach (var tag in tags)
        {
            if (tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(ours, useStrongComparison: false))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>gzip unless the client said nothing of it or gave it q=0 (RFC 9110 12.5.3).</summary>
    internal static bool AcceptsGzip(HttpRequest request)
    {
        var header = request.Headers.AcceptEncoding;
        if (header.Count == 0 || !header.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (!StringWithQualityHeaderValue.TryParseList(header, out var codings))
        {
            return false;
        }

        foreach (var coding in codings)
        {
            if (coding.Value.Equals("gzip", StringComparison.OrdinalIgnoreCase))
            {
                return coding.Quality is not <= 0;
            }
        }

        return false;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
        {
            gzip.Write(bytes);
        }

        return output.ToArray();
    }
}
