using Microsoft.AspNetCore.Http.Features;
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
internal sealed class IngestEndpoint(PointRegistry registry, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<IngestEndpoint> logger)
{
    public Task HandleFmp4Async(HttpContext context, PointPath path, string streamId) =>
        HandleAsync(context, path, streamId, (point, feed) => new Fmp4IngestSession(registry, point, feed, logger));

    public Task HandleTsAsync(HttpContext context, PointPath path, string streamId) =>
        HandleAsync(context, path, streamId, (point, feed) => new MpegTs.TsIngestSession(registry, point, feed, logger, registry.Options.TsFragmentSeconds));

    /// <summary>A <c>Streams({id})</c> POST: fragmented MP4 (Smooth, CMAF) or MPEG-TS, told apart by the first byte.</summary>
    public Task HandleStreamAsync(HttpContext context, PointPath path, string streamId) =>
        HandleAsync(context, path, streamId, (point, feed) => new SniffingSession(
            () => new Fmp4IngestSession(registry, point, feed, logger),
            () => new MpegTs.TsIngestSession(registry, point, feed, logger, registry.Options.TsFragmentSeconds)));

    public async Task HandleAsync(HttpContext context, PointPath path, string streamId, Func<Point, StreamFeed, IIngestSession> start)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(start);
        var request = context.Request;
        if (request.ContentLength == 0 || (request.ContentLength is null && !request.Headers.TransferEncoding.Any(v => v?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true)))
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null; // a live push is one endless request
        }

        var point = registry.GetOrCreate(path);
        var feed = point.Connect(streamId, time.GetUtcNow());
        IngestLog.Connected(logger, path.Value, streamId, context.Connection.RemoteIpAddress);
        var session = start(point, feed);
        var reason = "end of body";
        try
        {
            // Not RequestAborted: ffmpeg half-closes after its last chunk, which aborts the request while the
            // final boxes still sit in the body pipe. A lost connection surfaces as a failed read instead.
            await session.RunAsync(request.BodyReader, lifetime.ApplicationStopping).ConfigureAwait(false);
            reason = session.SawEnd ? "mfra received" : "end of body";
            context.Response.StatusCode = StatusCodes.Status200OK;
        }
        catch (IngestException e)
        {
            reason = "refused";
            IngestLog.Refused(logger, path.Value, streamId, e.StatusCode, e.Message);
            await Delivery.Responses.ProblemAsync(context, e.StatusCode, e.Message).ConfigureAwait(false);
        }
        catch (IOException e) when (e is not EndOfStreamException)
        {
            // The archive could not take the fragment (disk full, I/O error): refuse it, keep what is already safe.
            reason = "archive failure";
            IngestLog.ArchiveFailed(logger, e, path.Value, streamId);
            await Delivery.Responses.ProblemAsync(context, StatusCodes.Status507InsufficientStorage, "the archive cannot store this fragment").ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or BadHttpRequestException or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            reason = "connection lost: " + e.Message;
        }
        finally
        {
            IngestLog.Ended(logger, path.Value, streamId, reason, session.Accepted, session.Duplicates);
            if (point.Disconnect(feed))
            {
                registry.RemoveIfEmpty(point);
                var grace = registry.Options.FinalizeGraceSeconds;
                if (session.SawEnd || grace == 0 || point.EndAnnouncedWithin(time.GetUtcNow(), TimeSpan.FromSeconds(grace)))
                {
                    registry.Finalize(point);
                }
                else
                {
                    _ = FinalizeLaterAsync(point, TimeSpan.FromSeconds(grace));
                }
            }
        }
    }

    /// <summary>Finalises after the grace period unless an encoder came back (Finalize checks again under the lock).</summary>
    private async Task FinalizeLaterAsync(Point point, TimeSpan grace)
    {
        try
        {
            await Task.Delay(grace, time, lifetime.ApplicationStopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the archive is durable as it is and recovery finalises it at the next start.
            return;
        }

        registry.Finalize(point);
    }
}
