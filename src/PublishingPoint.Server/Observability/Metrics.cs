using System.Collections.Concurrent;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Observability;

/// <summary>Counters behind /metrics. Updated with Interlocked on the hot paths; read only when scraped.</summary>
public sealed class Metrics
{
    // Archive write latency buckets, in seconds (Prometheus histogram, cumulative at exposition).
    internal static readonly double[] ArchiveBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

    private readonly ConcurrentDictionary<(string Point, string Track), Counter> _ingest = new();
    private readonly ConcurrentDictionary<(string Format, int Status), Counter> _served = new();
    private readonly long[] _archiveBuckets = new long[ArchiveBuckets.Length + 1];
    private long _archiveCount;
    private long _archiveMicros;
    private readonly long[] _directBodies = new long[2];
    private readonly long[] _directBodyBytes = new long[2];

    internal sealed class Counter
    {
        public long Count;
        public long Bytes;
    }

    public void Ingested(Point point, TrackKey track, int bytes)
    {
        ArgumentNullException.ThrowIfNull(point);
        var counter = _ingest.GetOrAdd((point.Path.Value, track.ToString()), static _ => new Counter());
        Interlocked.Increment(ref counter.Count);
        Interlocked.Add(ref counter.Bytes, bytes);
    }

    public void Served(string format, int status, long bytes)
    {
        var counter = _served.GetOrAdd((format, status), static _ => new Counter());
        Interlocked.Increment(ref counter.Count);
        Interlocked.Add(ref counter.Bytes, bytes);
    }

    /// <summary>A response body handed to the socket by reference (no copy into Kestrel's buffers), from memory or with sendfile.</summary>
    public void DirectBody(int bytes, bool sendfile)
    {
        var via = sendfile ? 1 : 0;
        Interlocked.Increment(ref _directBodies[via]);
        Interlocked.Add(ref _directBodyBytes[via], bytes);
    }

    internal long DirectBodies(bool sendfile) => Interlocked.Read(ref _directBodies[sendfile ? 1 : 0]);

    internal long DirectBodyBytes(bool sendfile) => Interlocked.Read(ref _directBodyBytes[sendfile ? 1 : 0]);

    public void ArchiveWrite(TimeSpan elapsed)
    {
        var seconds = elapsed.TotalSeconds;
        var bucket = 0;
        while (bucket < ArchiveBuckets.Length && seconds > ArchiveBuckets[bucket])
        {
            bucket++;
        }

        Interlocked.Increment(ref _archiveBuckets[bucket]);
        Interlocked.Increment(ref _archiveCount);
        Interlocked.Add(ref _archiveMicros, (long)(seconds * 1_000_000));
    }

    internal IEnumerable<KeyValuePair<(string Point, string Track), Counter>> IngestCounters => _ingest;

    internal IEnumerable<KeyValuePair<(string Format, int Status), Counter>> ServedCounters => _served;

    internal long[] ArchiveBucketCounts => [.. _archiveBuckets.Select(b => Interlocked.Read(ref b))];

    internal long ArchiveCount => Interlocked.Read(ref _archiveCount);

    internal double ArchiveSeconds => Interlocked.Read(ref _archiveMicros) / 1_000_000.0;
}
