using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Http.Headers;
using PublishingPoint.Server.Hosting;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// One Smooth/CMAF stream sent as successive requests to <c>Streams({id})</c>: GStreamer's ismlmux with
/// souphttpclientsink PUTs each piece with <c>Content-Range: bytes a-b/*</c>. The pieces feed one session through a
/// pipe, in order: bytes already received are skipped, a piece that would leave a gap is refused with 416, and a
/// piece starting at byte 0 (or, without Content-Range, with an 'ftyp') is the encoder reconnecting: a new session
/// that continues the point, its repeated fragments dropped as duplicates. Each request is answered once the session
/// has taken its bytes (complete fragments indexed and archived); a stream with no piece for IngestIdleTimeoutSeconds
/// ends like a dropped connection.
/// </summary>
internal sealed partial class ContinuedIngest(IngestEndpoint endpoint, IngestMemory memory, ILogger<ContinuedIngest> logger)
{
    private static readonly TimeSpan TakeLimit = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, ContinuedStream> _streams = new(StringComparer.Ordinal);

    public async Task HandleAsync(HttpContext context, PointPath path, string streamId)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(path);
        if (!TryFirstByte(context.Request, out var from))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "Content-Range must be 'bytes first-last/*' (or a length)").ConfigureAwait(false);
            return;
        }

        var key = path.Value + "\n" + streamId;
        var starts = from == 0 || (from is null && await StartsWithFtypAsync(context.Request.BodyReader, context.RequestAborted).ConfigureAwait(false));
        ContinuedStream? stream;
        if (starts)
        {
            if (_streams.TryRemove(key, out var previous))
            {
                await previous.EndAsync().ConfigureAwait(false); // the encoder reconnected: its old session ends here
            }

            try
            {
                stream = Start(context, path, streamId, key);
            }
            catch (PointRuleException e)
            {
                IngestLog.Refused(logger, path.Value, streamId, e.StatusCode, e.Message);
                await Problems.WriteAsync(context, e.StatusCode, e.Message).ConfigureAwait(false);
                return;
            }
        }
        else if (!_streams.TryGetValue(key, out stream))
        {
            await Problems.WriteAsync(context, StatusCodes.Status409Conflict, $"no stream {streamId} in progress: send it from its first byte (its 'ftyp')").ConfigureAwait(false);
            return;
        }

        await stream.Gate.WaitAsync(context.RequestAborted).ConfigureAwait(false);
        try
        {
            await TakeAsync(context, stream, from ?? (starts ? 0 : stream.NextOffset)).ConfigureAwait(false);
        }
        finally
        {
            stream.Gate.Release();
        }
    }

    private ContinuedStream Start(HttpContext context, PointPath path, string streamId, string key)
    {
        var (point, feed) = endpoint.Admit(path, streamId, IngestProtocol.Fmp4, context);
        IngestLog.Connected(logger, path.Value, streamId, context.Connection.RemoteIpAddress);
        var held = memory.Open(point);
        var stream = new ContinuedStream(endpoint.Fmp4Session(point, feed, held));
        stream.Session = RunAsync(stream, point, feed, path, streamId, held, key);
        _streams[key] = stream;
        return stream;
    }

    private async Task<IngestEndpoint.Outcome?> RunAsync(ContinuedStream stream, Point point, StreamFeed feed, PointPath path, string streamId, IngestMemoryAccount held, string key)
    {
        await Task.Yield();
        try
        {
            return await endpoint.RunSessionAsync(point, feed, path, streamId, stream.Ingest, stream.Reader).ConfigureAwait(false);
        }
        finally
        {
            held.Dispose();
            _streams.TryRemove(new KeyValuePair<string, ContinuedStream>(key, stream));
        }
    }

    /// <summary>Writes the new bytes of this piece into the stream, then answers once the session has looked at them.</summary>
    private static async Task TakeAsync(HttpContext context, ContinuedStream stream, long first)
    {
        if (first > stream.NextOffset)
        {
            await Problems.WriteAsync(context, StatusCodes.Status416RangeNotSatisfiable,
                $"bytes from {first} would leave a gap: {stream.NextOffset} bytes of this stream have arrived, send from byte {stream.NextOffset}").ConfigureAwait(false);
            return;
        }

        var skip = stream.NextOffset - first; // bytes sent again: already taken
        var reader = context.Request.BodyReader;
        using var writing = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stream.Replaced);
        try
        {
            while (!stream.Replaced.IsCancellationRequested)
            {
                var result = await reader.ReadAsync(writing.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                var skipped = Math.Min(skip, buffer.Length);
                skip -= skipped;
                foreach (var segment in buffer.Slice(skipped))
                {
                    await stream.Writer.WriteAsync(segment, writing.Token).ConfigureAwait(false);
                    stream.NextOffset += segment.Length;
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (stream.Replaced.IsCancellationRequested)
        {
        }

        if (stream.Replaced.IsCancellationRequested)
        {
            await Problems.WriteAsync(context, StatusCodes.Status409Conflict, "the encoder started this stream over (a piece from byte 0) meanwhile: this piece belongs to the stream it replaced").ConfigureAwait(false);
            return;
        }

        if (await stream.TakenAsync(TakeLimit).ConfigureAwait(false) is { Status: { } status } outcome)
        {
            await Problems.WriteAsync(context, status, outcome.Detail!).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    private static bool TryFirstByte(HttpRequest request, out long? first)
    {
        first = null;
        var header = request.Headers.ContentRange.ToString();
        if (header.Length == 0)
        {
            return true;
        }

        if (!ContentRangeHeaderValue.TryParse(header, out var range) || range.Unit != "bytes" || range.From is not { } from || from < 0)
        {
            return false;
        }

        first = from;
        return true;
    }

    private static async Task<bool> StartsWithFtypAsync(PipeReader body, CancellationToken cancellationToken)
    {
        var result = await body.ReadAtLeastAsync(8, cancellationToken).ConfigureAwait(false);
        var head = result.Buffer.Slice(0, Math.Min(8, result.Buffer.Length)).ToArray();
        body.AdvanceTo(result.Buffer.Start);
        return head.Length == 8 && head.AsSpan(4).SequenceEqual("ftyp"u8);
    }

    /// <summary>The pipe one continued stream's pieces go into, and the session reading it.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The cancellation source has no timer to release, and requests queued on the stream read its token after the stream ended: disposing it would make them throw.")]
    private sealed class ContinuedStream
    {
        private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19, useSynchronizationContext: false));

        public ContinuedStream(IIngestSession ingest)
        {
            Ingest = ingest;
            Reader = new ProgressPipeReader(_pipe.Reader);
        }

        public IIngestSession Ingest { get; }

        public ProgressPipeReader Reader { get; }

        public PipeWriter Writer => _pipe.Writer;

        public Task<IngestEndpoint.Outcome?> Session { get; set; } = Task.FromResult<IngestEndpoint.Outcome?>(null);

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public long NextOffset { get; set; }

        /// <summary>Cancelled when the encoder starts the stream over: the piece being taken stops, the pipe is then the ender's.</summary>
        public CancellationToken Replaced => _replaced.Token;

        private readonly CancellationTokenSource _replaced = new();

        /// <summary>Waits until the session has finished with every byte written (or ended); its outcome when it ended.</summary>
        public async Task<IngestEndpoint.Outcome?> TakenAsync(TimeSpan limit)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_replaced.Token);
            timeout.CancelAfter(limit);
            while (!Session.IsCompleted && !timeout.IsCancellationRequested && Reader.Progress() is var (finished, stepped) && finished < NextOffset)
            {
                await Task.WhenAny(stepped, Session, Task.Delay(Timeout.Infinite, timeout.Token)).ConfigureAwait(false);
            }

            if (Ingest.SawEnd && !Session.IsCompleted)
            {
                await _pipe.Writer.CompleteAsync().ConfigureAwait(false); // 'mfra': the stream is over, end the session now
            }

            if (Session.IsCompleted || Ingest.SawEnd)
            {
                return await Session.ConfigureAwait(false);
            }

            // Not looked at in time (the box is still being read, or the server is overloaded): no acknowledgement.
            return Reader.Progress().Finished < NextOffset
                ? new IngestEndpoint.Outcome("slow", StatusCodes.Status503ServiceUnavailable, $"the bytes are queued but were not taken within {TakeLimit.TotalSeconds:0} s; the next piece continues from byte {NextOffset}")
                : null;
        }

        /// <summary>
        /// The encoder started over: the piece being taken (if any) stops and is refused, then the pipe ends under the
        /// gate (a pipe writer is not to be used by two requests at once) and the session finishes what it had.
        /// </summary>
        public async Task EndAsync()
        {
            await _replaced.CancelAsync().ConfigureAwait(false);
            await Gate.WaitAsync().ConfigureAwait(false);
            try
            {
                await _pipe.Writer.CompleteAsync().ConfigureAwait(false);
            }
            finally
            {
                Gate.Release();
            }

            await Session.ConfigureAwait(false);
        }
    }
}
