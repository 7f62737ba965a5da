using System.Globalization;
using System.Text;
using PublishingPoint.Server.Delivery.Hls;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Observability;

/// <summary>Prometheus text exposition (format 0.0.4) at /metrics, written by hand: no client library needed.</summary>
internal static class MetricsEndpoint
{
    public static IResult Render(Metrics metrics, PointRegistry registry, HlsSegmentCache cache, Publishing.PublishStatus publish)
    {
        var text = new StringBuilder(4096);
        Header(text, "pp_ingest_fragments_total", "counter", "Fragments accepted from encoders, per point and track.");
        foreach (var (key, counter) in metrics.IngestCounters.OrderBy(k => k.Key))
        {
            Line(text, "pp_ingest_fragments_total", Volatile.Read(ref counter.Count), ("point", key.Point), ("track", key.Track));
        }

        Header(text, "pp_ingest_bytes_total", "counter", "Bytes of fragments accepted from encoders, per point and track.");
        foreach (var (key, counter) in metrics.IngestCounters.OrderBy(k => k.Key))
        {
            Line(text, "pp_ingest_bytes_total", Volatile.Read(ref counter.Bytes), ("point", key.Point), ("track", key.Track));
        }

        Header(text, "pp_http_requests_total", "counter", "Requests answered, per output format and status.");
        foreach (var (key, counter) in metrics.ServedCounters.OrderBy(k => k.Key))
        {
            Line(text, "pp_http_requests_total", Volatile.Read(ref counter.Count), ("format", key.Format), ("status", key.Status.ToString(CultureInfo.InvariantCulture)));
        }

        Header(text, "pp_http_response_bytes_total", "counter", "Response bytes sent, per output format and status.");
        foreach (var (key, counter) in metrics.ServedCounters.OrderBy(k => k.Key))
        {
            Line(text, "pp_http_response_bytes_total", Volatile.Read(ref counter.Bytes), ("format", key.Format), ("status", key.Status.ToString(CultureInfo.InvariantCulture)));
        }

        Header(text, "pp_segment_cache_requests_total", "counter", "Repackaged segments asked for.");
        Line(text, "pp_segment_cache_requests_total", cache.Requests);
        Header(text, "pp_segment_cache_hits_total", "counter", "Repackaged segments served from the cache.");
        Line(text, "pp_segment_cache_hits_total", Math.Max(0, cache.Requests - cache.Produced));

        Header(text, "pp_http_direct_bodies_total", "counter", "Response bodies sent from memory straight to the socket, without a copy (PublishingPoint:DirectSend).");
        Line(text, "pp_http_direct_bodies_total", metrics.DirectBodies(sendfile: false), ("via", "memory"));
        Line(text, "pp_http_direct_bodies_total", metrics.DirectBodies(sendfile: true), ("via", "sendfile"));
        Header(text, "pp_http_direct_body_bytes_total", "counter", "Bytes of those bodies.");
        Line(text, "pp_http_direct_body_bytes_total", metrics.DirectBodyBytes(sendfile: false), ("via", "memory"));
        Line(text, "pp_http_direct_body_bytes_total", metrics.DirectBodyBytes(sendfile: true), ("via", "sendfile"));

        Header(text, "pp_archive_write_seconds", "histogram", "Time to append and flush one fragment to its archive.");
        var buckets = metrics.ArchiveBucketCounts;
        long cumulative = 0;
        for (var i = 0; i < Metrics.ArchiveBuckets.Length; i++)
        {
            cumulative += buckets[i];
            Line(text, "pp_archive_write_seconds_bucket", cumulative, ("le", Metrics.ArchiveBuckets[i].ToString(CultureInfo.InvariantCulture)));
        }

        Line(text, "pp_archive_write_seconds_bucket", metrics.ArchiveCount, ("le", "+Inf"));
        text.Append("pp_archive_write_seconds_sum ").Append(metrics.ArchiveSeconds.ToString(CultureInfo.InvariantCulture)).Append('\n');
        Line(text, "pp_archive_write_seconds_count", metrics.ArchiveCount);

        var points = registry.All;
        Header(text, "pp_points", "gauge", "Publishing points by state.");
        foreach (var state in Enum.GetValues<PointState>())
        {
            Line(text, "pp_points", points.Count(p => p.State == state), ("state", state.ToString().ToLowerInvariant()));
        }

        Header(text, "pp_track_fragments_behind_live_edge", "gauge", "How many fragments a track lags behind the newest track of its point.");
        foreach (var point in points.OrderBy(p => p.Path.Value, StringComparer.Ordinal))
        {
            var tracks = point.Tracks();
            var edge = tracks.Select(t => t.Last is { } l ? (double)l.End / t.Description.Timescale : 0).DefaultIfEmpty(0).Max();
            foreach (var track in tracks)
            {
                if (track.Last is { } last && last.Duration > 0)
                {
                    var behind = (edge - ((double)last.End / track.Description.Timescale)) / ((double)last.Duration / track.Description.Timescale);
                    Line(text, "pp_track_fragments_behind_live_edge", (long)Math.Floor(Math.Max(0, behind)), ("point", point.Path.Value), ("track", track.Key.ToString()));
                }
            }
        }

        if (publish.Target is not null)
        {
            Publishing(text, publish);
        }

        return Results.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
    }

    private static void Publishing(StringBuilder text, Publishing.PublishStatus publish)
    {
        Header(text, "pp_publish_backlog", "gauge", "Objects (segments and playlists) waiting to be published to the object store, in all.");
        Line(text, "pp_publish_backlog", publish.TotalBacklog);
        Header(text, "pp_publish_point_backlog", "gauge", "Objects waiting to be published, per point.");
        foreach (var (point, backlog) in publish.Backlog.OrderBy(b => b.Key, StringComparer.Ordinal))
        {
            Line(text, "pp_publish_point_backlog", backlog, ("point", point));
        }

        Header(text, "pp_publish_store_up", "gauge", "1 when the object store took the last operation, 0 from a failure until the next success.");
        Line(text, "pp_publish_store_up", publish.StoreUp ? 1 : 0);
        Header(text, "pp_publish_objects_total", "counter", "Objects written to the object store.");
        Line(text, "pp_publish_objects_total", publish.Puts);
        Header(text, "pp_publish_bytes_total", "counter", "Bytes written to the object store.");
        Line(text, "pp_publish_bytes_total", publish.PutBytes);
        Header(text, "pp_publish_deletes_total", "counter", "Segments deleted from the object store as they left the live window.");
        Line(text, "pp_publish_deletes_total", publish.Deletes);
        Header(text, "pp_publish_failures_total", "counter", "Failed publishing passes (each retried with backoff).");
        Line(text, "pp_publish_failures_total", publish.Failures);
        Header(text, "pp_publish_skipped_segments_total", "counter", "Segments the origin dropped before the store could take them.");
        Line(text, "pp_publish_skipped_segments_total", publish.Skipped);
        Header(text, "pp_publish_last_error_timestamp_seconds", "gauge", "Unix time of the last store error (0: none); the message is in the log and GET /api/publish.");
        Line(text, "pp_publish_last_error_timestamp_seconds", publish.LastErrorAt?.ToUnixTimeSeconds() ?? 0);
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Line(StringBuilder text, string name, long value, params (string Name, string Value)[] labels)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                text.Append(i == 0 ? string.Empty : ",").Append(labels[i].Name).Append("=\"")
                    .Append(labels[i].Value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)).Append('"');
            }

            text.Append('}');
        }

        text.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }
}
