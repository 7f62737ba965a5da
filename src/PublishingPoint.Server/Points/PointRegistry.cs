using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Hosting;

namespace PublishingPoint.Server.Points;

/// <summary>Every publishing point this server knows, live or VOD, by path.</summary>
public sealed partial class PointRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, Point> _points = new(StringComparer.Ordinal);
    private readonly ILogger<PointRegistry> _logger;
    private readonly PointFinalizer _finalizer;

    public PointRegistry(IOptions<PublishingPointOptions> options, IHostEnvironment environment, ILogger<PointRegistry> logger, PointFinalizer finalizer)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        Options = options.Value;
        DataRoot = System.IO.Path.GetFullPath(System.IO.Path.Combine(environment.ContentRootPath, Options.DataPath));
        _logger = logger;
        _finalizer = finalizer;
        System.IO.Directory.CreateDirectory(DataRoot);
    }

    public PublishingPointOptions Options { get; }

    public string DataRoot { get; }

    public IReadOnlyCollection<Point> All => [.. _points.Values];

    public Point? Find(PointPath path) => _points.GetValueOrDefault(path.Value);

    public Point GetOrCreate(PointPath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return _points.GetOrAdd(path.Value, _ =>
        {
            var directory = DirectoryOf(path);
            System.IO.Directory.CreateDirectory(directory);
            LogCreated(path.Value);
            return new Point(path, directory);
        });
    }

    /// <summary>Adds a point rebuilt from disk at start-up.</summary>
    internal void AddRecovered(Point point) => _points[point.Path.Value] = point;

    /// <summary>Every encoder of the point has ended: write the indexes and VOD manifests, then serve it as VOD.</summary>
    public void Finalize(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        using (point.EnterLock())
        {
            if (point.State == PointState.Vod || point.Archives().Length == 0 || !point.TryMarkVod())
            {
                return;
            }

            _finalizer.Write(point);
        }

        LogFinalized(point.Path.Value);
    }

    /// <summary>Forgets a point that never got media (a refused or empty push), and its empty folder.</summary>
    public void RemoveIfEmpty(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        if (point.Archives().Length > 0 || point.State == PointState.Live || !_points.TryRemove(new(point.Path.Value, point)))
        {
            return;
        }

        try
        {
            System.IO.Directory.Delete(point.Directory);
        }
        catch (IOException)
        {
            // not empty or already gone: nothing of ours to clean
        }

        LogRemovedEmpty(point.Path.Value);
    }

    public string DirectoryOf(PointPath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var directory = System.IO.Path.GetFullPath(System.IO.Path.Combine(DataRoot, path.Value));
        if (!directory.StartsWith(DataRoot + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"point path {path} leaves the data folder");
        }

        return directory;
    }

    public void Dispose()
    {
        foreach (var point in _points.Values)
        {
            point.Dispose();
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Publishing point {Point} created")]
    private partial void LogCreated(string point);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Publishing point {Point} removed: no media was accepted")]
    private partial void LogRemovedEmpty(string point);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Publishing point {Point} finalised to VOD")]
    private partial void LogFinalized(string point);
}
