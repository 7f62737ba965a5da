using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace PublishingPoint.Server.Transport;

/// <summary>The transport's instruments (Meter "PublishingPoint.Transport"): response bodies sent without a copy.</summary>
internal sealed class TransportMetrics
{
    public const string MeterName = "PublishingPoint.Transport";

    private readonly Counter<long> _directBodies;
    private readonly Counter<long> _directBytes;

    public TransportMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        _directBodies = meter.CreateCounter<long>("direct.bodies", "{body}", "Response bodies sent without a copy (DirectSend), via memory or sendfile.");
        _directBytes = meter.CreateCounter<long>("direct.bytes", "By", "Bytes of those bodies.");
    }

    public void DirectBody(int bytes, bool sendfile)
    {
        var tags = new TagList { { "via", sendfile ? "sendfile" : "memory" } };
        _directBodies.Add(1, tags);
        _directBytes.Add(bytes, tags);
    }
}
