using System.Diagnostics;
using System.Diagnostics.Metrics;
using PublishingPoint.Server.Delivery.Hls;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Delivery's instruments (Meter "PublishingPoint.Delivery"): answers and bytes per output format and status (beside
/// ASP.NET Core's own http.server.request.duration), and the segment cache.
/// </summary>
internal sealed class DeliveryMetrics
{
    public const string MeterName = "PublishingPoint.Delivery";

    private readonly Counter<long> _responses;
    private readonly Counter<long> _responseBytes;

    public DeliveryMetrics(IMeterFactory meters, HlsSegmentCache cache)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(cache);
        var meter = meters.Create(MeterName);
        _responses = meter.CreateCounter<long>("responses", "{response}", "Requests answered, per output format and status.");
        _responseBytes = meter.CreateCounter<long>("response.bytes", "By", "Response bytes sent, per output format and status.");
        meter.CreateObservableCounter("segment_cache.requests", () => cache.Requests, "{request}", "Repackaged segments asked for.");
        meter.CreateObservableCounter("segment_cache.hits", () => Math.Max(0, cache.Requests - cache.Produced), "{request}", "Repackaged segments served from the cache.");
    }

    public void Served(string format, int status, long bytes)
    {
        var tags = new TagList { { "format", format }, { "status", status } };
        _responses.Add(1, tags);
        _responseBytes.Add(bytes, tags);
    }
}
