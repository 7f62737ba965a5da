using PublishingPoint.Server.Ingest;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Archive;

/// <summary>
/// At start-up, rebuilds every point from its archive files before the server takes requests: finished
/// points come back as VOD, points cut off by a crash are cut at their last complete fragment and finalised.
/// </summary>
internal sealed partial class ArchiveRecovery(PointRegistry registry, Observability.Health health, ILogger<ArchiveRecovery> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var directory in Directory.EnumerateDirectories(registry.DataRoot, "*" + PointPath.Extension, SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(registry.DataRoot, directory).Replace(Path.DirectorySeparatorChar, '/');
            if (!PointPath.TryParse(relative, out var path, out _))
            {
                LogSkipped(directory);
                continue;
            }

            try
            {
                Recover(path, directory);
            }
            catch (Exception e) when (e is IOException or FormatException or IngestException or UnauthorizedAccessException)
            {
                LogFailed(e, path.Value);
            }
        }

        health.MarkRecovered();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Recover(PointPath path, string directory) => Load(path, directory);

    /// <summary>Builds a point from the archives in its folder, registers it and finalises it (a VOD asset).</summary>
    public Point Load(PointPath path, string directory)
    {
        var settings = PointSettings.Load(directory);
        var point = new Point(path, directory) { Settings = settings ?? new PointSettings(), CreatedByOperator = settings is not null };
        point.LoadTimeline();
        long fragments = 0, torn = 0;
        foreach (var file in Directory.EnumerateFiles(directory, "*.ismv").Order(StringComparer.Ordinal))
        {
            var scanned = ArchiveScanner.Scan(file);
            if (scanned is null)
            {
                LogSkipped(file);
                continue;
            }

            var streamId = Path.GetFileNameWithoutExtension(file);
            var descriptions = TrackResolver.Resolve(scanned.Header, streamId);
            var header = scanned.Header with { Descriptions = descriptions };
            var tracks = point.BindTracks(descriptions, out var conflict);
            if (conflict is not null)
            {
                LogConflict(file, conflict);
                continue;
            }

            var archive = StreamArchive.OpenRecovered(file, header, scanned.ValidLength, scanned.MfraOffset, registry.Options.FsyncArchive, registry.ArchiveFiles,
                scanned.Fragments.Select(f => (f.Traf.TrackId, new Media.IsoBmff.RandomAccessEntry(f.Time, f.Offset))));
            point.AddRecoveredArchive(archive);
            foreach (var f in scanned.Fragments)
            {
                if (tracks.TryGetValue(f.Traf.TrackId, out var track))
                {
                    var scale = (double)track.Description.Timescale;
                    archive.Observe(f.Time / scale, (f.Time + f.Duration) / scale);
                    track.AddRecovered(new FragmentEntry(f.Time, f.Duration, f.Traf, archive, f.Offset, f.Length, null));
                    fragments++;
                }
            }

            torn += scanned.TornBytes;
        }

        registry.AddRecovered(point);
        registry.Finalize(point);
        LogRecovered(path.Value, fragments, torn);
        return point;
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Recovered point {Point}: {Fragments} fragments from disk, {Torn} bytes of an incomplete fragment cut off")]
    private partial void LogRecovered(string point, long fragments, long torn);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Not recovering {Path}: not a valid point or archive")]
    private partial void LogSkipped(string path);

    [LoggerMessage(EventId = 302, Level = LogLevel.Error, Message = "Recovering point {Point} failed")]
    private partial void LogFailed(Exception exception, string point);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "Not recovering archive {Path}: {Conflict}")]
    private partial void LogConflict(string path, string conflict);
}
