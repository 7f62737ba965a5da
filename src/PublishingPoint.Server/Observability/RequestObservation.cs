using Microsoft.AspNetCore.Http.Features;

namespace PublishingPoint.Server.Observability;

/// <summary>
/// For every request: the bytes actually sent, the output format and the point, for the request log line
/// (<see cref="RequestLog"/>) and the per-format request and byte counters.
/// Delivery answers always carry a Content-Length (and must keep Kestrel's own body writer for DirectSend); other
/// answers (the API's JSON, problem details) are counted as they are written.
/// </summary>
internal sealed class RequestObservation(RequestDelegate next, Delivery.DeliveryMetrics metrics, MetricsExport export, Serilog.ILogger logger, Points.PointRegistry registry)
{
    // The request line's own category, so a level override for it (to see players' lines at Debug) is honoured.
    private readonly Serilog.ILogger _requestLog = logger.ForContext(Serilog.Core.Constants.SourceContextPropertyName, RequestLog.Category);

    public async Task InvokeAsync(HttpContext context)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var path = context.Request.Path.Value;
        // Where ".isml" is in the path: found once, for the body's counting, the point's name and the log's level.
        var isml = IsmlIndex(path);
        var delivery = isml >= 0 || IsClock(path);
        CountingBody? counting = null;
        if (!delivery && context.Features.Get<IHttpResponseBodyFeature>() is { } body)
        {
            counting = new CountingBody(body);
            context.Features.Set<IHttpResponseBodyFeature>(counting);
        }

        Exception? error = null;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            error = e;
            throw;
        }
        finally
        {
            Observe(context, counting, started, error, (path, isml, delivery));
        }
    }

    // path: as the request came in (before any rewriting), with where ".isml" is in it and whether it is a delivery path.
    private void Observe(HttpContext context, CountingBody? counting, long started, Exception? error, (string? Path, int Isml, bool Delivery) path)
    {
        var response = context.Response;
        var bytes = counting?.Bytes
            ?? (HttpMethods.IsHead(context.Request.Method) || response.StatusCode == StatusCodes.Status304NotModified ? 0 : response.ContentLength ?? 0);
        var format = Classify(context.Request);
        // An exception the server turns into a 500 (when nothing was sent yet).
        var status = error is null || response.HasStarted ? response.StatusCode : StatusCodes.Status500InternalServerError;
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        metrics.Served(format, status, bytes);
        export.ObserveRequest(format, elapsed.TotalSeconds);
        var requestPath = path.Path;
        var range = PointOf(requestPath, path.Isml);
        var point = range is { } name ? registry.Find(requestPath.AsSpan(name)) : null;
        // Only for a line that will be written: a player's answer is at Debug, off by default, and gathering the line
        // costs more than the rest of a playlist's answer.
        var level = RequestLog.LevelOf(context, error is not null, path.Delivery);
        if (_requestLog.IsEnabled(level) && Budgeted(context, status))
        {
            // The path as it came on the wire (percent-encoded): a decoded %0a in the line would forge another. A client
            // that left gets no stack trace (its cancellation is not the server's failure); a made-up point no property.
            var aborted = context.RequestAborted.IsCancellationRequested;
            (point is not null ? _requestLog.ForContext("Point", point.Path.Value) : _requestLog).Write(level, aborted ? null : error, RequestLog.Template,
                context.Request.Method, context.Request.Path.ToUriComponent(), status, bytes, elapsed.TotalMilliseconds, format);
        }

        Count(context, point, format, bytes);
    }

    // Lines anyone can cause at will (a refusal, a 404, a client that left, a 503 of a full queue) are written at most
    // RefusedLinesPerSecond a second, and the next second's first line says how many were held back: a flood of them
    // would fill the async sink's bound, and it drops other lines (an archive's failure) when full (a review's finding).
    private bool Budgeted(HttpContext context, int status)
    {
        if ((status < 400 || status == StatusCodes.Status500InternalServerError) && !context.RequestAborted.IsCancellationRequested)
        {
            return true;
        }

        var second = registry.Time.GetTimestamp() / registry.Time.TimestampFrequency;
        lock (_budgetLock)
        {
            if (second != _budgetSecond)
            {
                if (_heldLines > 0)
                {
                    _requestLog.Warning("{Held} request lines of refused, failed or abandoned requests were held back (over {Budget} a second)", _heldLines, RequestLog.RefusedLinesPerSecond);
                }

                (_budgetSecond, _budgetLines, _heldLines) = (second, 0, 0);
            }

            if (_budgetLines < RequestLog.RefusedLinesPerSecond)
            {
                _budgetLines++;
                return true;
            }

            _heldLines++;
            return false;
        }
    }

    private readonly Lock _budgetLock = new();
    private long _budgetSecond;
    private int _budgetLines;
    private long _heldLines;

    /// <summary>The point's egress, and its viewer when this was a manifest, playlist or MPD answered.</summary>
    private void Count(HttpContext context, Points.Point? point, string format, long bytes)
    {
        if (point is null || format is "ingest" or "api" or "admin" or "other")
        {
            return;
        }

        var now = registry.Time.GetUtcNow();
        point.Audience.Egress.Add(bytes, now);
        var path = context.Request.Path.Value!;
        var status = context.Response.StatusCode;
        if ((status is StatusCodes.Status200OK or StatusCodes.Status304NotModified) && context.Connection.RemoteIpAddress is { } client && CountsViewer(path))
        {
            point.Audience.Saw(client, now);
        }
    }

    /// <summary>A manifest, playlist or MPD: whoever is answered it counts as one of the point's viewers.</summary>
    internal static bool CountsViewer(string path) =>
        path.EndsWith(".m3u8", StringComparison.Ordinal) || path.EndsWith("/Manifest", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".mpd", StringComparison.Ordinal);

    // Everything under a point and the clock: answers with a Content-Length, sent through Kestrel's own writer (DirectSend).
    internal static bool IsDelivery(string? path) => IsmlIndex(path) >= 0 || IsClock(path);

    private static int IsmlIndex(string? path) => path?.IndexOf(".isml", StringComparison.OrdinalIgnoreCase) ?? -1;

    private static bool IsClock(string? path) => string.Equals(path, "/time", StringComparison.Ordinal);

    /// <summary>Which output (or input) a request belongs to, for the metrics and the log.</summary>
    internal static string Classify(HttpRequest request)
    {
        var path = request.Path.Value ?? string.Empty;
        if (HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method) || HttpMethods.IsDelete(request.Method))
        {
            return path.StartsWith("/api/", StringComparison.Ordinal) ? "api" : "ingest";
        }

        // HLS first: the most asked for, and its test needs no case folding.
        if (path.EndsWith(".m3u8", StringComparison.Ordinal) || path.Contains(".isml/hls/", StringComparison.Ordinal))
        {
            return "hls";
        }

        if (path.EndsWith("/Manifest", StringComparison.OrdinalIgnoreCase) || path.Contains("/QualityLevels(", StringComparison.OrdinalIgnoreCase))
        {
            return "smooth";
        }

        if (path.EndsWith(".mpd", StringComparison.Ordinal))
        {
            return "dash";
        }

        return path.StartsWith("/api/", StringComparison.Ordinal) || path.StartsWith("/dashboard", StringComparison.Ordinal) ? "admin" : "other";
    }

    /// <summary>Where "live/ch1.isml" is in "/live/ch1.isml/Manifest" (a signed prefix skipped), or null.</summary>
    private static Range? PointOf(string? path, int end)
    {
        if (end < 0)
        {
            return null;
        }

        var start = path!.StartsWith("/s/", StringComparison.Ordinal) ? NthSlash(path, 3) : 0;
        return start < 0 || start >= end ? null : (start + 1)..(end + 5);
    }

    private static int NthSlash(string path, int n)
    {
        var at = 0;
        for (var i = 0; i < n && at >= 0; i++)
        {
            at = path.IndexOf('/', at + 1);
        }

        return at;
    }

    /// <summary>The response body, counted as it is written (Kestrel's own writer underneath).</summary>
    private sealed class CountingBody(IHttpResponseBodyFeature inner) : IHttpResponseBodyFeature
    {
        private CountingStream? _stream;
        private CountingWriter? _writer;

        public long Bytes => (_stream?.Count ?? 0) + (_writer?.Count ?? 0);

        public Stream Stream => _stream ??= new CountingStream(inner.Stream);

        public System.IO.Pipelines.PipeWriter Writer => _writer ??= new CountingWriter(inner.Writer);

        public void DisableBuffering() => inner.DisableBuffering();

        public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

        public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
        {
            _writer ??= new CountingWriter(inner.Writer);
            _writer.Count += count ?? new FileInfo(path).Length - offset;
            return inner.SendFileAsync(path, offset, count, cancellationToken);
        }

        public Task CompleteAsync() => inner.CompleteAsync();
    }

    private sealed class CountingWriter(System.IO.Pipelines.PipeWriter inner) : System.IO.Pipelines.PipeWriter
    {
        public long Count { get; set; }

        public override void Advance(int bytes)
        {
            Count += bytes;
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override ValueTask<System.IO.Pipelines.FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);
    }

    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Count { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Count += count;
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Count += buffer.Length;
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Count += count;
            return inner.WriteAsync(buffer, offset, count, cancellationToken);
        }
    }
}
