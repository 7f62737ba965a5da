using Microsoft.AspNetCore.Http.Features;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest.Smooth;

/// <summary>
/// Live Smooth Streaming ingest (MS-SSTR 3.3 encoder side, and what ffmpeg's ismv muxer sends):
/// <c>POST /{point}.isml/Streams({id})</c> or <c>POST /{point}.isml/{name}.ism?stream_id={id}</c>.
/// An empty POST is the handshake some encoders make before streaming: it gets 200 and changes nothing.
/// </summary>
internal sealed class SmoothIngestEndpoint(PointRegistry registry, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<SmoothIngestEndpoint> logger)
{
    public async Task HandleAsync(HttpContext context, PointPath path, string streamId)
    {
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
        var feed = point.Connect(streamId, DateTimeOffset.UtcNow);
        IngestLog.Connected(logger, path.Value, streamId, context.Connection.RemoteIpAddress);
        var session = new Fmp4IngestSession(registry, point, feed, logger);
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
                if (session.SawEnd || grace == 0)
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
