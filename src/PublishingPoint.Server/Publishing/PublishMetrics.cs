using System.Diagnostics.Metrics;

namespace PublishingPoint.Server.Publishing;

/// <summary>The object-store publisher as scraped (Meter "PublishingPoint.Publishing"), from its <see cref="PublishStatus"/>.</summary>
internal sealed class PublishMetrics
{
    public const string MeterName = "PublishingPoint.Publishing";

    public PublishMetrics(IMeterFactory meters, PublishStatus status)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(status);
        // Nothing is reported until a target is configured (the publisher sets it when it starts).
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("backlog", () => Only(status, status.TotalBacklog), "{object}", "Objects (segments and playlists) waiting to be published to the object store, in all.");
        meter.CreateObservableGauge("point.backlog",
            () => status.Target is null ? [] : status.Backlog.Select(b => new Measurement<long>(b.Value, new KeyValuePair<string, object?>("point", b.Key))), "{object}", "Objects waiting to be published, per point.");
        meter.CreateObservableGauge("store.up", () => Only(status, status.StoreUp ? 1L : 0L), null, "1 when the object store took the last operation, 0 from a failure until the next success.");
        meter.CreateObservableCounter("objects", () => Only(status, status.Puts), "{object}", "Objects written to the object store.");
        meter.CreateObservableCounter("bytes", () => Only(status, status.PutBytes), "By", "Bytes written to the object store.");
        meter.CreateObservableCounter("deletes", () => Only(status, status.Deletes), "{object}", "Segments deleted from the object store as they left the live window.");
        meter.CreateObservableCounter("failures", () => Only(status, status.Failures), "{failure}", "Failed publishing passes (each retried with backoff).");
        meter.CreateObservableCounter("delete.failures", () => Only(status, status.DeleteFailures), "{delete}", "DELETEs the store refused (windowed publishing; the pass goes on, deletes are retried after MaxRetryDelaySeconds).");
        meter.CreateObservableCounter("skipped", () => Only(status, status.Skipped), "{segment}", "Segments the origin dropped before the store could take them.");
        meter.CreateObservableGauge("last_error.time", () => Only(status, status.LastErrorAt?.ToUnixTimeSeconds() ?? 0), "s", "Unix time of the last publishing error, the store's or the origin's (0: none).");
    }

    private static IEnumerable<Measurement<long>> Only(PublishStatus status, long value) => status.Target is null ? [] : [new Measurement<long>(value)];
}
