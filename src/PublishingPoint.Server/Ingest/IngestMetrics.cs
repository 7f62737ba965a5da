using System.Diagnostics;
using System.Diagnostics.Metrics;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// The ingest's instruments (Meter "PublishingPoint.Ingest"): fragments and bytes accepted, archive write time. Names are
/// relative to the meter, which the Prometheus exposition puts in front: publishingpoint_ingest_fragments.
/// </summary>
internal sealed class IngestMetrics
{
    public const string MeterName = "PublishingPoint.Ingest";

    private readonly Counter<long> _fragments;
    private readonly Counter<long> _bytes;
    private readonly Histogram<double> _archiveWrite;
    private readonly Histogram<double> _partAvailable;

    public IngestMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        _fragments = meter.CreateCounter<long>("fragments", "{fragment}", "Fragments accepted from encoders, per point and track.");
        _bytes = meter.CreateCounter<long>("bytes", "By", "Bytes of fragments accepted from encoders, per point and track.");
        _archiveWrite = meter.CreateHistogram("archive.write.duration", "s", "Time to append and flush one fragment to its archive.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });
        _partAvailable = meter.CreateHistogram("part.available.duration", "s", "From the last byte of a low-latency chunk's 'mdat' read off the request to the chunk listed as a part.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1] });
        meter.CreateObservableGauge("buffers.lent", () => FragmentBufferPool.Shared.LentBytes, "By", "Bytes of pooled fragment arrays held by fragments being received or kept in memory.");
        meter.CreateObservableGauge("buffers.idle", () => FragmentBufferPool.Shared.IdleBytes, "By", "Bytes of pooled fragment arrays waiting to take the next fragments.");
    }

    public void PartAvailable(TimeSpan elapsed) => _partAvailable.Record(elapsed.TotalSeconds);

    public void Ingested(Point point, TrackKey track, int bytes)
    {
        var tags = new TagList { { "point", point.Path.Value }, { "track", track.ToString() } };
        _fragments.Add(1, tags);
        _bytes.Add(bytes, tags);
    }

    public void ArchiveWrite(TimeSpan elapsed) => _archiveWrite.Record(elapsed.TotalSeconds);
}
