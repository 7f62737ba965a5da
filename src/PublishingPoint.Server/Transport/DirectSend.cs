using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// Zero-copy response bodies. <see cref="Connections"/> is Kestrel connection middleware that puts a
/// <see cref="DirectSocketOutput"/> under HTTP/1 on every TCP connection; <see cref="WriteBodyAsync"/> writes a
/// body through it by reference when the request allows it, and through Kestrel's normal copy otherwise.
/// </summary>
internal static class DirectSend
{
    /// <summary>Below this a copy costs less than the bookkeeping.</summary>
    public const int MinimumBodyBytes = 16 * 1024;

    /// <summary>
    /// Below this a body in memory leaves with the headers in one gathered send; sendfile of its spooled copy would cost
    /// the headers' own send and the file's, two system calls where one does, and a file's creation. Above it the copy
    /// into the socket costs more, most with many connections, whose socket buffers do not stay in the CPU's caches:
    /// at 256 connections a 57 KB segment went 22 % faster with sendfile, a 39 KB one 8 %, a 17 KB one no faster.
    /// </summary>
    public const int SendFileMinimumBytes = 32 * 1024;

    /// <param name="metrics">Where each body sent this way is counted (resolved once here, not per request).</param>
    /// <param name="unsent">Where answers waiting for their clients are counted and bounded.</param>
    public static Func<ConnectionDelegate, ConnectionDelegate> Connections(TransportMetrics? metrics, UnsentAnswers? unsent = null) => next => async connection =>
    {
        if (connection.Features.Get<IConnectionSocketFeature>()?.Socket is not { ProtocolType: ProtocolType.Tcp } socket)
        {
            await next(connection).ConfigureAwait(false);
            return;
        }

        var transport = connection.Transport;
        var output = new DirectSocketOutput(socket) { Metrics = metrics, Unsent = unsent };
        connection.Transport = new DuplexPipe(transport.Input, output);
        connection.Features.Set<IDirectBodyFeature>(output);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            // Everything Kestrel wrote must be on the wire before the socket transport shuts the socket down.
            await output.DrainAsync().ConfigureAwait(false);
            connection.Transport = transport;
        }
    };

    /// <summary>
    /// Writes <paramref name="body"/> as the response body, whose headers (with Content-Length) are set. When
    /// <paramref name="file"/> holds the same bytes from <paramref name="fileOffset"/> on, they are sent from it.
    /// </summary>
    public static async Task WriteBodyAsync(HttpContext context, ReadOnlyMemory<byte> body, SpooledFile? file = null, long fileOffset = 0)
    {
        var response = context.Response;
        if (body.Length >= MinimumBodyBytes && Direct(context) is { } direct)
        {
            await response.StartAsync(context.RequestAborted).ConfigureAwait(false);
            var sendfile = file is not null && body.Length >= SendFileMinimumBytes && direct.TryQueueFile(file, fileOffset, body.Length);
            if (sendfile || direct.TryQueueBody(body))
            {
                await WritePlaceholdersAsync(context, direct, body.Length, sendfile).ConfigureAwait(false);
                return;
            }
        }

        await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/> as the response
    /// body (headers with Content-Length set): with sendfile where the connection allows it, else read through a pooled
    /// buffer. The caller holds a lease on the file for the call.
    /// </summary>
    public static async Task WriteFileAsync(HttpContext context, SpooledFile file, long offset, int count)
    {
        ArgumentNullException.ThrowIfNull(file);
        var response = context.Response;
        if (count >= MinimumBodyBytes && Direct(context) is { } direct)
        {
            await response.StartAsync(context.RequestAborted).ConfigureAwait(false);
            if (direct.TryQueueFile(file, offset, count))
            {
                await WritePlaceholdersAsync(context, direct, count, sendfile: true).ConfigureAwait(false);
                return;
            }
        }

        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Min(count, 64 * 1024));
        try
        {
            for (var done = 0; done < count;)
            {
                var read = await RandomAccess.ReadAsync(file.Handle, buffer.AsMemory(0, Math.Min(buffer.Length, count - done)), offset + done, context.RequestAborted).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException("the spooled segment ended early");
                }

                await response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted).ConfigureAwait(false);
                done += read;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // Kestrel counts the body through its writer; the output behind it sends the queued body in the bytes' place.
    private static async Task WritePlaceholdersAsync(HttpContext context, IDirectBodyFeature direct, int length, bool sendfile)
    {
        var writer = context.Response.BodyWriter;
        var left = length;
        try
        {
            while (left > 0)
            {
                var n = Math.Min(left, writer.GetSpan().Length);
                writer.Advance(n);
                left -= n;
            }
        }
        catch
        {
            // The output still expects the rest of the body's length: nothing more may go on this connection.
            context.Abort();
            throw;
        }

        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        direct.Metrics?.DirectBody(length, sendfile);
    }

    // Only where Kestrel's HTTP/1 writer sits right on our output: not under TLS or HTTP/2 framing, and not when a
    // middleware replaced the response body (it would see the placeholder bytes). TLS is read from the connection: the
    // request's scheme is what a trusted proxy's X-Forwarded-Proto says.
    private static IDirectBodyFeature? Direct(HttpContext context)
    {
        var features = context.Features;
        return features.Get<IDirectBodyFeature>() is { AcceptsBodies: true } direct
            && !context.Request.IsHttps
            && features.Get<Microsoft.AspNetCore.Http.Features.ITlsConnectionFeature>() is null
            && (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol))
            && ReferenceEquals(features.Get<IHttpResponseBodyFeature>(), features.Get<IHttpRequestFeature>())
            ? direct
            : null;
    }

    internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }
}
