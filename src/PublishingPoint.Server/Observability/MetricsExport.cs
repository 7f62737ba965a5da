using System.Diagnostics.Metrics;
using Prometheus;

namespace PublishingPoint.Server.Observability;

/// <summary>
/// /metrics in Prometheus text format, by prometheus-net: every instrument of this server's Meters (ours, ASP.NET
/// Core's http.server.* and kestrel.*, all created through the host's IMeterFactory), the runtime's (System.Runtime:
/// GC, thread pool, ...) and the process's (CPU, memory, file descriptors). A registry of its own rather than the
/// library's static one, so each server answers for itself (several may share a process in tests).
/// </summary>
internal sealed class MetricsExport : IDisposable
{
    private readonly IDisposable _adapter;

    // Meters that measure every request, buffer rent or route match: each measurement takes the meter adapter's locks and
    // label lookups (ASP.NET Core's request duration histogram alone cost a tenth of a small segment's answer). Our own
    // counters and request duration histogram take their place; Kestrel's connection figures stay.
    private static readonly HashSet<string> _perOperation = ["Microsoft.AspNetCore.MemoryPool", "Microsoft.AspNetCore.Routing", "Microsoft.AspNetCore.Hosting"];

    public MetricsExport(IMeterFactory meters)
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        _adapter = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = Registry,
            MetricFactory = Prometheus.Metrics.WithCustomRegistry(Registry),
            InstrumentFilterPredicate = instrument => (instrument.Meter.Scope == meters && !_perOperation.Contains(instrument.Meter.Name)) || instrument.Meter.Name == "System.Runtime",
            ResolveHistogramBuckets = Buckets,
        });
        _duration = Prometheus.Metrics.WithCustomRegistry(Registry).CreateHistogram("publishingpoint_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, per output format.",
            new HistogramConfiguration { LabelNames = ["format"], ExemplarBehavior = ExemplarBehavior.NoExemplars(), Buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    }

    public CollectorRegistry Registry { get; }

    private readonly Prometheus.Histogram _duration;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Prometheus.Histogram.Child> _durationByFormat = new(StringComparer.Ordinal);

    /// <summary>
    /// One request's time in the pipeline, per output format: prometheus-net's own histogram (lock-free buckets, the
    /// child per format looked up once), where ASP.NET Core's http.server.request.duration cost a tenth of a small
    /// segment's answer through the meter adapter.
    /// </summary>
    public void ObserveRequest(string format, double seconds) =>
        _durationByFormat.GetOrAdd(format, static (f, h) => h.WithLabels(f), _duration).Observe(seconds);

    // The bounds an instrument advises (ours are chosen for what they time, down to 100 µs); the library's otherwise.
    private static double[] Buckets(Instrument instrument) => instrument is Histogram<double> { Advice.HistogramBucketBoundaries: { Count: > 0 } bounds }
        ? [.. bounds]
        : MeterAdapterOptions.DefaultHistogramBuckets;

    public static async Task WriteAsync(HttpContext context, MetricsExport export)
    {
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await export.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    public void Dispose() => _adapter.Dispose();
}
