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

    public MetricsExport(IMeterFactory meters)
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        _adapter = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = Registry,
            MetricFactory = Prometheus.Metrics.WithCustomRegistry(Registry),
            InstrumentFilterPredicate = instrument => instrument.Meter.Scope == meters || instrument.Meter.Name == "System.Runtime",
            ResolveHistogramBuckets = Buckets,
        });
    }

    public CollectorRegistry Registry { get; }

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
