using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using PublishingPoint.Server.Delivery.Hls;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Delivery's instruments (Meter "PublishingPoint.Delivery"): answers and bytes per output format and status, the
/// segment cache and its production lane, time-shifted renders and held low-latency requests. Answers are summed here (two atomic adds per request) and read when /metrics is scraped: a counter
/// measured per request went through the exporter's locks and label lookups tens of thousands of times a second.
/// </summary>
internal sealed class DeliveryMetrics
{
    public const string MeterName = "PublishingPoint.Delivery";

    private readonly ConcurrentDictionary<(string Format, int Status), Totals> _served = new();

    private sealed class Totals
    {
        public long Responses;
        public long Bytes;
    }

    public DeliveryMetrics(IMeterFactory meters, SegmentCache cache, ShiftedOutputs shifted, HeldRequests held, ProductionLane lane)
    {
        ArgumentNullException.ThrowIfNull(held);
        ArgumentNullException.ThrowIfNull(lane);
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(shifted);
        var meter = meters.Create(MeterName);
        meter.CreateObservableCounter("responses", () => Read(t => Volatile.Read(ref t.Responses)), "{response}", "Requests answered, per output format and status.");
        meter.CreateObservableCounter("response.bytes", () => Read(t => Volatile.Read(ref t.Bytes)), "By", "Response bytes sent, per output format and status.");
        meter.CreateObservableCounter("segment_cache.requests", () => cache.Requests, "{request}", "Repackaged segments asked for.");
        meter.CreateObservableCounter("segment_cache.hits", () => Math.Max(0, cache.Requests - cache.Produced), "{request}", "Repackaged segments served from the cache.");
        meter.CreateObservableCounter("shifted_renders", () => ByThread(shifted.ShiftedRenders), "{render}",
            "Time-shifted manifests and playlists rendered (the others were answered from the cache), by where: on the pool or on a socket event thread.");
        meter.CreateObservableUpDownCounter("held_requests", () => held.Now, "{request}", "Low-latency requests waiting for media now: blocking playlist reloads, part hints, open segments.");
        meter.CreateObservableCounter("production_lane.runs", () => lane.Runs, "{run}", "Work run on the production lane's threads: productions, and the answers that waited for them.");
        meter.CreateObservableCounter("production_lane.failures", () => lane.Failures, "{run}", "Work that threw on a production lane thread (a bug: it is counted, not let end the process).");
        meter.CreateObservableUpDownCounter("production_lane.queued", () => lane.Queued, "{production}", "Segment productions waiting for a thread of the production lane.");
        meter.CreateObservableCounter("own_renders", () => ByThread(shifted.OwnRenders), "{render}",
            "A point's own (not time-shifted) manifests, playlists and MPDs rendered, by where: on the pool (a VOD point's, whose index reads the archive) or on a socket event thread.");
        meter.CreateObservableCounter("shifted_joined", () => shifted.Joined, "{request}", "Time-shifted requests answered by a render another request had under way.");
    }

    private static Measurement<long>[] ByThread(RenderCounts counts) =>
        [new(counts.OnPool, new KeyValuePair<string, object?>("thread", "pool")), new(counts.OnEventThreads, new KeyValuePair<string, object?>("thread", "event"))];

    public void Served(string format, int status, long bytes)
    {
        // Formats are a handful of constants and statuses three digits: the table stays small.
        var totals = _served.GetOrAdd((format, status), static _ => new Totals());
        Interlocked.Increment(ref totals.Responses);
        Interlocked.Add(ref totals.Bytes, bytes);
    }

    private IEnumerable<Measurement<long>> Read(Func<Totals, long> value) =>
        _served.Select(p => new Measurement<long>(value(p.Value), new KeyValuePair<string, object?>("format", p.Key.Format), new KeyValuePair<string, object?>("status", p.Key.Status)));
}
