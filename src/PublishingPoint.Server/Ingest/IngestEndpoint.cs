using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using PublishingPoint.Server.Hosting;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest;

/// <summary>What reads one ingest request body into a point.</summary>
internal interface IIngestSession
{
    long Accepted { get; }

    long Duplicates { get; }

    /// <summary>The encoder said the stream is over (an 'mfra', or the final playlist).</summary>
    bool SawEnd { get; }

    Task RunAsync(System.IO.Pipelines.PipeReader body, CancellationToken cancellationToken);
}

/// <summary>
/// The life of one ingest request, whatever its protocol: connect the stream to its point, run the protocol's
/// session over the body as it arrives, answer with a clear status, and finalise the point when its last
/// encoder is gone. An empty POST is the handshake some Smooth encoders make before streaming (MS-SSTR 3.3):
/// it gets 200 and changes nothing.
/// </summary>
internal sealed class IngestEndpoint(PointRegistry registry, IngestMemory memory, IngestMetrics metrics, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<IngestEndpoint> logger)
{
    public Task HandleFmp4Async(HttpContext context, PointPath path, string streamId, IngestProtocol protocol = IngestProtocol.Segments) =>
        HandleAsync(context, path, streamId, protocol, (point, feed, held) => new Fmp4IngestSession(registry, point, feed, held, metrics, logger));

    public Task HandleTsAsync(HttpContext context, PointPath path, string streamId) =>
        HandleAsync(context, path, streamId, IngestProtocol.Segments, (point, feed, held) => new MpegTs.TsIngestSession(registry, point, feed, held, metrics, logger));

    /// <summary>A <c>Streams({id})</c> POST: fragmented MP4 (Smooth, CMAF) or MPEG-TS, told apart by its first bytes.</summary>
    public Task HandleStreamAsync(HttpContext context, PointPath path, string streamId) =>
        HandleAsync(context, path, streamId, null, (point, feed, held) => new SniffingSession(
            () => Allowed(point, IngestProtocol.Fmp4, new Fmp4IngestSession(registry, point, feed, held, metrics, logger)),
            () => Allowed(point, IngestProtocol.MpegTs, new MpegTs.TsIngestSession(registry, point, feed, held, metrics, logger))));

    /// <param name="protocol">Checked against the point's allowed protocols now; null when the session checks it after sniffing.</param>
    public async Task HandleAsync(HttpContext context, PointPath path, string streamId, IngestProtocol? protocol, Func<Point, StreamFeed, IngestMemoryAccount, IIngestSession> start)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(start);
        // The ingest secret was checked by the router before any ingest handler runs.
        if (!HasBody(context.Request))
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            return;
        }

        PrepareForEndlessBody(context);
        Point point;
        StreamFeed feed;
        try
        {
            (point, feed) = Admit(path, streamId, protocol, context);
        }
        catch (PointRuleException e)
        {
            IngestLog.Refused(logger, path.Value, streamId, e.StatusCode, e.Message);
            await Problems.WriteAsync(context, e.StatusCode, e.Message).ConfigureAwait(false);
            return;
        }

        IngestLog.Connected(logger, path.Value, streamId, context.Connection.RemoteIpAddress);
        using var held = memory.Open(point);
        var session = start(point, feed, held);
        // Not RequestAborted: ffmpeg half-closes after its last chunk, which aborts the request while the
        // final boxes still sit in the body pipe. A lost connection surfaces as a failed read instead.
        var outcome = await RunSessionAsync(point, feed, path, streamId, session, context.Request.BodyReader).ConfigureAwait(false);
        if (outcome?.Status is { } status)
        {
            await Problems.WriteAsync(context, status, outcome.Detail!).ConfigureAwait(false);
        }
        else
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
        }
    }

    /// <summary>
    /// Runs an admitted stream's session over <paramref name="body"/> to its end (or the idle timeout), logs how it
    /// ended and disconnects the stream; null when it ended normally, else why and the answer it deserves.
    /// </summary>
    internal async Task<Outcome?> RunSessionAsync(Point point, StreamFeed feed, PointPath path, string streamId, IIngestSession session, System.IO.Pipelines.PipeReader body)
    {
        var reason = "end of body";
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping, point.ClosingToken);
        try
        {
            await session.RunAsync(new IdleTimeoutPipeReader(body, TimeSpan.FromSeconds(registry.Options.IngestIdleTimeoutSeconds), time), stop.Token).ConfigureAwait(false);
            reason = session.SawEnd ? "mfra received" : "end of body";
            return null;
        }
        catch (Exception e) when (Classify(e, point) is { } outcome)
        {
            reason = outcome.Reason;
            Report(e, outcome, path, streamId);
            return outcome;
        }
        finally
        {
            IngestLog.Ended(logger, path.Value, streamId, reason, session.Accepted, session.Duplicates);
            Disconnect(point, feed, session);
        }
    }

    /// <summary>A new Smooth/CMAF session for an admitted stream.</summary>
    internal IIngestSession Fmp4Session(Point point, StreamFeed feed, IngestMemoryAccount held) => new Fmp4IngestSession(registry, point, feed, held, metrics, logger);

    /// <summary>How an ingest ended early: why (for the log), and the answer when the request can still get one.</summary>
    internal sealed record Outcome(string Reason, int? Status = null, string? Detail = null);

    private static Outcome? Classify(Exception e, Point point) => e switch
    {
        OperationCanceledException when point.Closed => new("point closed by an operator", StatusCodes.Status410Gone, "the point was closed by an operator; what was sent before is kept"),
        IdleTimeoutException => new("idle timeout", StatusCodes.Status408RequestTimeout, "no data for too long; complete fragments are kept"),
        PointRuleException refused => new("refused", refused.StatusCode, refused.Message),

        // A parser refused bytes a session did not check first: still the sender's fault, still a clean 400.
        FormatException or InvalidDataException => new("refused", StatusCodes.Status400BadRequest, "bad media: " + e.Message),

        // Before the archive's arm: a client's reset and Kestrel's cut of a slow body are IOExceptions too.
        OperationCanceledException or Microsoft.AspNetCore.Http.BadHttpRequestException or Microsoft.AspNetCore.Connections.ConnectionResetException => new("connection lost: " + e.Message),

        // The archive could not take the fragment (disk full, I/O error): refuse it, keep what is already safe.
        IOException when e is not EndOfStreamException => new("archive failure", StatusCodes.Status507InsufficientStorage, "the archive cannot store this fragment"),
        _ => null,
    };

    private void Report(Exception e, Outcome outcome, PointPath path, string streamId)
    {
        if (outcome.Reason == "archive failure")
        {
            IngestLog.ArchiveFailed(logger, e, path.Value, streamId);
        }
        else if (outcome.Reason == "refused")
        {
            IngestLog.Refused(logger, path.Value, streamId, outcome.Status!.Value, e.Message);
        }
    }

    // The server's own answer where it has one: an HTTP/2 or HTTP/3 body comes with neither Content-Length nor chunked.
    private static bool HasBody(HttpRequest request) =>
        request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>() is { } detection
            ? detection.CanHaveBody && request.ContentLength is null or > 0
            : request.ContentLength > 0
              || (request.ContentLength is null && request.Headers.TransferEncoding.Any(v => v?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true));

    private void PrepareForEndlessBody(HttpContext context)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null; // a live push is one endless request
        }

        // Kestrel takes a floor of its own per request over HTTP/1.x only; over HTTP/2 and HTTP/3 it can only be turned
        // off, and otherwise the server-wide Kestrel:Limits:MinRequestBodyDataRate applies (and the idle timeout as everywhere).
        if (context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
        {
            var floor = registry.Options.MinIngestBytesPerSecond;
            if (floor <= 0)
            {
                rate.MinDataRate = null;
            }
            else if (!HttpProtocol.IsHttp2(context.Request.Protocol) && !HttpProtocol.IsHttp3(context.Request.Protocol))
            {
                rate.MinDataRate = new MinDataRate(floor, TimeSpan.FromSeconds(5));
            }
        }
    }

    /// <summary>The stream's connection is gone: when it was the point's last, finalise it now or after the grace period.</summary>
    private void Disconnect(Point point, StreamFeed feed, IIngestSession session)
    {
        if (!point.Disconnect(feed))
        {
            return;
        }

        registry.RemoveIfEmpty(point);
        var grace = registry.Options.FinalizeGraceSeconds;
        if (session.SawEnd || grace == 0)
        {
            registry.Finalize(point);
        }
        else
        {
            // After an end announced in a playlist or MPD, the requests that follow it (the last segments, deletes) end
            // the push sooner; but another encoder of the point may still push, and its next request voids the timer.
            var announced = point.EveryStreamEndedWithin(time.GetUtcNow(), TimeSpan.FromSeconds(grace));
            _ = FinalizeLaterAsync(point, announced ? EndSettle : TimeSpan.FromSeconds(grace));
        }
    }

    /// <summary>How long after an announced end (a playlist with EXT-X-ENDLIST, a static MPD) the point is finalised when no other request comes.</summary>
    internal static readonly TimeSpan EndSettle = TimeSpan.FromSeconds(2);

    /// <summary>Finds or creates the point and connects the stream, within the limits and the point's state.</summary>
    internal (Point Point, StreamFeed Feed) Admit(PointPath path, string streamId, IngestProtocol? protocol, HttpContext context, bool again = false)
    {
        var point = registry.GetOrCreate(path);
        // The secret was checked before the point was looked up here: a point an operator made meanwhile with its own
        // secret (a continued stream waits for its first bytes in between) is checked again.
        if (point.Settings.IngestSecret is { Length: > 0 } own && !IngestAuthorization.Check(context, own, registry.Options.AllowAnonymousIngest, path.Value, out var denied))
        {
            throw new PointRuleException(denied, denied == StatusCodes.Status429TooManyRequests ? Configuration.WrongSecrets.Refusal : "ingest needs the point's secret: ?token=... or HTTP basic auth");
        }

        if (point.Closed)
        {
            throw new PointRuleException(StatusCodes.Status409Conflict, "the point is closed: an operator must open it before it takes ingest again");
        }

        if (protocol is { } p && !point.Settings.Allows(p))
        {
            throw new PointRuleException(StatusCodes.Status403Forbidden, $"the point does not accept {p} ingest");
        }

        if (point.State == PointState.Vod && point.Settings.RestartOnReconnect)
        {
            point = registry.Restart(point);
        }

        StreamFeed feed;
        try
        {
            feed = point.Connect(streamId, time.GetUtcNow(), registry.Options.MaxConnectionsPerStream, registry.Options.MaxStreamsPerPoint);
        }
        catch (PointRuleException) when (!again && point.Retired && registry.Find(path) != point)
        {
            // Removed between the lookup and here as empty (another encoder's first push to the path was refused): the
            // path gets a new point, which this push joins.
            return Admit(path, streamId, protocol, context, again: true);
        }

        feed.RemoteAddress = context.Connection.RemoteIpAddress?.ToString();
        return (point, feed);
    }

    private static IIngestSession Allowed(Point point, IngestProtocol protocol, IIngestSession session) =>
        point.Settings.Allows(protocol) ? session : throw new PointRuleException(StatusCodes.Status403Forbidden, $"the point does not accept {protocol} ingest");

    /// <summary>
    /// Finalises after the grace period unless an encoder connected meanwhile: a segmenting encoder's next PUT, even one
    /// that ended before the period did, times a finalisation of its own from its end (Finalize checks again under the lock).
    /// </summary>
    internal async Task FinalizeLaterAsync(Point point, TimeSpan grace)
    {
        var connects = point.Connects;
        try
        {
            await Task.Delay(grace, time, lifetime.ApplicationStopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the archive is durable as it is and recovery finalises it at the next start.
            return;
        }

        if (point.Connects == connects)
        {
            registry.Finalize(point);
        }
    }
}
