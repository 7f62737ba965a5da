using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Points;

/// <summary>Every publishing point this server knows, live or VOD, by path.</summary>
public sealed partial class PointRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, Point> _points = new(StringComparer.Ordinal);
    private readonly ILogger<PointRegistry> _logger;
    private readonly IPointFinalizer _finalizer;
    private readonly IndexBudget _indexBudget;

    public PointRegistry(IOptions<PublishingPointOptions> options, ILogger<PointRegistry> logger, IPointFinalizer finalizer, TimeProvider time)
    {
        Time = time;
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Value;
        DataRoot = Folders.Resolve(Options.DataPath);
        _logger = logger;
        _finalizer = finalizer;
        System.IO.Directory.CreateDirectory(DataRoot);
        ArchiveFiles = new ArchiveFiles(Options.MaxOpenArchiveFiles);
        _indexBudget = new IndexBudget(Options.MaxIndexBytes, logger);
        FragmentMemory = new FragmentMemory(Options.MaxMemoryWindowBytesPerPoint, Options.MaxMemoryWindowBytesPerServer);
    }

    /// <summary>The read handles of every archive, opened on demand and bounded (PublishingPoint:MaxOpenArchiveFiles).</summary>
    public ArchiveFiles ArchiveFiles { get; }

    public PublishingPointOptions Options { get; }

    /// <summary>The bound on fragment bytes the index keeps in memory, per point and in all.</summary>
    public FragmentMemory FragmentMemory { get; }

    public TimeProvider Time { get; }

    public string DataRoot { get; }

    public IReadOnlyCollection<Point> All => [.. _points.Values];

    public Point? Find(PointPath path) => _points.GetValueOrDefault(path.Value);

    /// <summary>The point named exactly <paramref name="path"/> ("live/ch1.isml"), without parsing it.</summary>
    public Point? Find(string path) => _points.GetValueOrDefault(path);

    /// <summary>The same from characters of a request's path (no string made for the lookup).</summary>
    public Point? Find(ReadOnlySpan<char> path) => _points.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(path, out var point) ? point : null;

    public Point GetOrCreate(PointPath path) => GetOrCreate(path, null, out _);

    // With an operator's settings, a new point has them (saved) before it is registered: an encoder never finds it
    // with the defaults (no secret of its own), and of two creations at once one creates it.
    private Point GetOrCreate(PointPath path, PointSettings? settings, out bool created)
    {
        ArgumentNullException.ThrowIfNull(path);
        created = false;
        if (Find(path) is { } existing)
        {
            return existing;
        }

        // One creation at a time (rare): the count checked is the count the new point joins, so MaxPoints holds
        // however many new paths are pushed to at once.
        lock (_creating)
        {
            if (Find(path) is { } found)
            {
                return found;
            }

            // A clip being written there holds the path: an encoder or an operator would share (and lose) its folder.
            if (_reserved.ContainsKey(path.Value))
            {
                throw new PointRuleException(StatusCodes.Status409Conflict, $"{path} is being created (a clip) or deleted: try again when that is done");
            }

            // Its folder holds a point recovery could not read (its settings, its own secret among them, are unknown):
            // a new point there would take it over and write among its files.
            if (_unrecovered.ContainsKey(path.Value))
            {
                throw new PointRuleException(StatusCodes.Status409Conflict, $"{path} holds a point that could not be recovered at start (see the log): repair or remove its folder, then restart");
            }

            RefuseReserved(path);
            EnsureRoomForPoint();
            var directory = DirectoryOf(path);
            Durable.CreateDirectory(directory);
            LogCreated(path.Value);
            var point = new Point(path, directory, Options.MaxRenderedBytesPerPoint, FragmentMemory);
            if (settings is not null)
            {
                point.Settings = settings;
                point.CreatedByOperator = true;
                settings.Save(directory);
            }

            _points[path.Value] = point;
            created = true;
            return point;
        }
    }

    private readonly Lock _creating = new();

    private readonly ConcurrentDictionary<string, bool> _unrecovered = new(StringComparer.Ordinal);

    /// <summary>A point recovery could not read: its path takes no ingest and no new point until a restart finds it readable.</summary>
    internal void HoldUnrecovered(PointPath path) => _unrecovered[path.Value] = true;

    /// <summary>Adds a point rebuilt from disk at start-up.</summary>
    internal void AddRecovered(Point point) => _points[point.Path.Value] = point;

    /// <summary>Every encoder of the point has ended: write the indexes and VOD manifests, then serve it as VOD.</summary>
    public void Finalize(Point point, bool force = false)
    {
        ArgumentNullException.ThrowIfNull(point);
        using (point.EnterFolderLock()) // a flush's manifests, made before, are not written over the final ones
        using (point.EnterLock())
        {
            if (point.State == PointState.Vod || point.Archives().Length == 0 || !point.TryMarkVod(force))
            {
                return;
            }

            try
            {
                _finalizer.Write(point);
            }
            catch (IOException e)
            {
                // Served as VOD from the index all the same; an archive without its 'mfra' is finalised again at the
                // next start. The encoder that ended the stream did nothing wrong: its request is not failed for this.
                LogFinalizeFailed(e, point.Path.Value);
            }
        }

        // Outside the point's lock, as the tracks take their own.
        point.LeaveMemory();
        LogFinalized(point.Path.Value);
    }

    /// <summary>An operator creates a point with its own settings before any encoder connects.</summary>
    public (Point Point, bool Created) Create(PointPath path, PointSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var point = GetOrCreate(path, settings, out var created);
        if (created)
        {
            LogChanged(path.Value, "created by an operator");
        }

        return (point, created);
    }

    private static void RefuseReserved(PointPath path)
    {
        if (path.IsReserved(out var error))
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, error);
        }
    }

    /// <summary>Refuses a new point past PublishingPoint:MaxPoints (under the creation lock).</summary>
    private void EnsureRoomForPoint()
    {
        if (_points.Count + _reserved.Count >= Options.MaxPoints)
        {
            throw new PointRuleException(StatusCodes.Status503ServiceUnavailable, $"this server holds its maximum of {Options.MaxPoints} points");
        }
    }

    private readonly ConcurrentDictionary<string, bool> _reserved = new(StringComparer.Ordinal);

    /// <summary>
    /// Claims a path for a point that is being built (a clip): one claim at a time, none for a path in use, and it
    /// counts against MaxPoints. Dispose the claim once the point is registered or the build failed.
    /// </summary>
    public IDisposable ReserveNew(PointPath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        lock (_creating)
        {
            if (Find(path) is not null || _reserved.ContainsKey(path.Value))
            {
                throw new PointRuleException(StatusCodes.Status409Conflict, $"{path} exists already or is being created");
            }

            RefuseReserved(path);
            EnsureRoomForPoint();
            _reserved[path.Value] = true;
        }

        return new Reservation(() => _reserved.TryRemove(path.Value, out _));
    }

    private sealed class Reservation(Action release) : IDisposable
    {
        private Action? _release = release;

        public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
    }

    /// <summary>
    /// Finalises now, as if every encoder had ended: running ingests are stopped (they get 410 Gone), what they
    /// delivered stays, and ingest is refused until the point is opened again. Idempotent.
    /// </summary>
    public async Task CloseAsync(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        var wasClosed = point.Closed;
        point.Close();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (point.ConnectionCount > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }

        Finalize(point, force: true);
        if (!wasClosed)
        {
            SaveClosed(point);
            LogChanged(point.Path.Value, "closed by an operator");
        }
    }

    /// <summary>The file that keeps a point closed across restarts (recovery closes a point whose folder has it).</summary>
    public const string ClosedMarker = "closed";

    // Writes what the point is when it runs, under the folder lock, not what the caller saw: a close that waited for
    // its encoders while an operator opened the point must not leave it closed on disk.
    private void SaveClosed(Point point)
    {
        var closed = point.Closed;
        try
        {
            point.WriteInFolder(folder =>
            {
                var marker = System.IO.Path.Combine(folder, ClosedMarker);
                closed = point.Closed;
                if (closed)
                {
                    Durable.CreateDirectory(folder);
                    Durable.WriteFile(marker, "closed by an operator: ingest is refused until POST /api/points/{path}/open\n"u8);
                }
                else if (File.Exists(marker))
                {
                    File.Delete(marker);
                    Durable.SyncDirectory(folder);
                }
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogClosedNotSaved(e, point.Path.Value, closed ? "closed" : "open");
        }
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "Point {Point} is {State} until the server restarts, but that could not be saved in its folder")]
    private partial void LogClosedNotSaved(Exception exception, string point, string state);

    public void Open(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        if (point.Closed)
        {
            point.Open();
            SaveClosed(point);
            LogChanged(point.Path.Value, "opened by an operator");
        }
    }

    /// <summary>
    /// Writes the point's manifests as they stand (the archive itself is flushed fragment by fragment). False when the
    /// point was deleted or replaced meanwhile: its folder is not its own any more (being deleted, or a new presentation's).
    /// </summary>
    public bool Flush(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        // Made under the point's lock, written under the folder's alone (as Finalize's, so one writer at a time): ingest
        // and players of the point do not wait for the files' syncs.
        try
        {
            if (!point.WriteInFolder(_ =>
            {
                PointManifests manifests;
                using (point.EnterLock())
                {
                    manifests = _finalizer.SnapshotManifests(point);
                }

                manifests.Write();
            }))
            {
                return false;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogFlushFailed(e, point.Path.Value);
            throw;
        }

        LogChanged(point.Path.Value, "archive manifests flushed");
        return true;
    }

    [LoggerMessage(EventId = 115, Level = LogLevel.Error, Message = "Flushing the manifests of {Point} failed (its archive, written fragment by fragment, is not harmed)")]
    private partial void LogFlushFailed(Exception exception, string point);

    /// <summary>Closes the point, forgets it and deletes its files. Idempotent: false when it was not there.</summary>
    public async Task<bool> DeleteAsync(PointPath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Find(path) is not { } point)
        {
            return false;
        }

        await CloseAsync(point).ConfigureAwait(false);

        // The path is held until the folder is gone: an encoder reconnecting meanwhile would make a new point in the folder
        // being deleted (its archive deleted under it, or the delete failing half done).
        var held = _reserved.TryAdd(path.Value, true);
        try
        {
            return Delete(path, point);
        }
        finally
        {
            if (held)
            {
                _reserved.TryRemove(path.Value, out _);
            }
        }
    }

    /// <summary>Between a deleted point's folder name and a random suffix: what start-up removes (".{name}.isml.deleted-*").</summary>
    internal const string TombstoneMark = ".deleted-";

    private bool Delete(PointPath path, Point point)
    {
        if (!_points.TryRemove(new(path.Value, point)))
        {
            return false;
        }

        // Dispose marks it retired under its folder lock, which what writes to its folder from outside ingest (publishing) checks
        // under the same lock: nothing is written there after this. The delete itself holds no lock (requests still
        // holding the point would wait on it).
        point.Dispose();
        if (System.IO.Directory.Exists(point.Directory))
        {
            // Renamed out of the way first (a name no point can have), then removed: a crash in the middle of a long
            // delete would otherwise bring back part of the point at the next start, without its point.json (its own
            // secret and settings). A tombstone left by a crash is removed at the next start.
            var parent = System.IO.Path.GetDirectoryName(point.Directory)!;
            var tombstone = System.IO.Path.Combine(parent, $".{System.IO.Path.GetFileName(point.Directory)}{TombstoneMark}{Guid.NewGuid():N}");
            System.IO.Directory.Move(point.Directory, tombstone);
            Durable.SyncDirectory(parent); // else a power cut could bring the point back
            System.IO.Directory.Delete(tombstone, recursive: true);
        }

        LogChanged(path.Value, "deleted with its files");
        return true;
    }

    /// <summary>
    /// A push to a finished point whose settings say restart-on-reconnect: the old presentation moves to a
    /// "previous-N" folder and a fresh point takes its place.
    /// </summary>
    public Point Restart(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        using (point.EnterFolderLock())
        using (point.EnterLock())
        {
            if (Find(point.Path) != point || point.State != PointState.Vod)
            {
                return Find(point.Path) ?? point;
            }

            point.Dispose();
            // A move that failed before (the point stays, retired, and its encoder tries again) is finished, not
            // started over in another previous-N.
            var moved = FinishInterruptedRestart(point.Directory);
            if (moved is null)
            {
                var n = 1;
                while (System.IO.Directory.Exists(System.IO.Path.Combine(point.Directory, $"previous-{n}")))
                {
                    n++;
                }

                moved = $"previous-{n}";
                var previous = System.IO.Path.Combine(point.Directory, moved);
                Durable.CreateDirectory(previous);
                // File by file, so a crash could leave part of the old presentation on top, to come back as the point
                // at the next start: the marker says the move is not done, and the start finishes it.
                Durable.WriteFile(System.IO.Path.Combine(previous, MovingMarker), []);
                MoveIntoPrevious(point.Directory, previous);
            }

            var fresh = new Point(point.Path, point.Directory, Options.MaxRenderedBytesPerPoint, FragmentMemory) { Settings = point.Settings, CreatedByOperator = point.CreatedByOperator };
            _points[point.Path.Value] = fresh;
            LogChanged(point.Path.Value, $"restarted on reconnect; the previous presentation is in {moved}");
            return fresh;
        }
    }

    private const string MovingMarker = ".moving";

    private static void MoveIntoPrevious(string directory, string previous)
    {
        foreach (var file in System.IO.Directory.GetFiles(directory))
        {
            if (System.IO.Path.GetFileName(file) != PointSettings.FileName)
            {
                var target = System.IO.Path.Combine(previous, System.IO.Path.GetFileName(file));
                for (var copy = 2; File.Exists(target); copy++)
                {
                    target = System.IO.Path.Combine(previous, $"{System.IO.Path.GetFileName(file)}.{copy}"); // never over one already there
                }

                File.Move(file, target);
            }
        }

        // Renames are folder writes: without these a power cut could leave the previous presentation in neither folder.
        Durable.SyncDirectory(previous);
        Durable.SyncDirectory(directory);
        File.Delete(System.IO.Path.Combine(previous, MovingMarker));
        Durable.SyncDirectory(previous);
    }

    /// <summary>
    /// At start, before the point's files are read, or at a restart on reconnect: finishes a move into previous-N that a
    /// crash or an error cut short. The name of that folder, or null when there was none.
    /// </summary>
    internal static string? FinishInterruptedRestart(string directory)
    {
        string? finished = null;
        foreach (var previous in System.IO.Directory.GetDirectories(directory, "previous-*"))
        {
            if (File.Exists(System.IO.Path.Combine(previous, MovingMarker)))
            {
                MoveIntoPrevious(directory, previous);
                finished = System.IO.Path.GetFileName(previous);
            }
        }

        return finished;
    }

    /// <summary>The point's rollover length in seconds (0: none). Without archive, files roll every half DVR window.</summary>
    public int ArchiveSegmentSeconds(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        return point.Settings.Archive
            ? point.Settings.ArchiveSegmentSeconds ?? Options.ArchiveSegmentSeconds
            : Math.Max(10, point.DvrWindowSeconds(Options.DvrWindowSeconds) / 2);
    }

    /// <summary>How much media the point keeps on disk behind its live edge, in seconds (0: all). Without archive, the DVR window.</summary>
    public int ArchiveLengthSeconds(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        return point.Settings.Archive
            ? point.Settings.ArchiveLengthSeconds ?? Options.ArchiveLengthSeconds
            : point.DvrWindowSeconds(Options.DvrWindowSeconds);
    }

    /// <summary>Deletes archive files whose media ended longer ago than the point keeps, and their fragments from the index.</summary>
    public void Prune(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        var length = ArchiveLengthSeconds(point);
        if (length <= 0)
        {
            return;
        }

        // Each file from the edge of its own tracks, not the point's newest media: a stream racing ahead (fragments chained
        // within MaxFragmentLeadSeconds of each other) must not have the other streams' finished files deleted.
        double OwnEdge(StreamArchive archive) => archive.Header.Descriptions.Values
            .Select(d => point.FindTrack(d.Key) is { Last: { } last } track ? (double)last.End / track.Description.Timescale : double.MinValue)
            .DefaultIfEmpty(double.MinValue).Max();
        var deleted = false;
        foreach (var archive in point.ArchivesEndedBefore(a => OwnEdge(a) - length))
        {
            var removed = point.Forget(archive);
            // The fragment that rolled over is archived and indexed already: a file that cannot be deleted must not fail it.
            try
            {
                File.Delete(archive.FilePath);
                deleted = true;
                LogChanged(point.Path.Value, $"archive {archive.FileName} deleted ({removed} fragments): its media ended more than {length} s before the live edge");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogNotPruned(e, point.Path.Value, archive.FileName, removed);
            }
        }

        if (deleted)
        {
            try
            {
                Durable.SyncDirectory(point.Directory); // else a power cut could bring a pruned file back (to be pruned again)
            }
            catch (IOException e)
            {
                LogNotPruned(e, point.Path.Value, "(the folder's sync after deleting)", 0);
            }
        }
    }

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "Point {Point}: archive {File} is out of the index ({Fragments} fragments past ArchiveLengthSeconds) but could not be deleted; it stays on disk until a restart takes it back and prunes it again, or an operator removes it")]
    private partial void LogNotPruned(Exception exception, string point, string file, int fragments);

    /// <summary>
    /// Whether the data folder's disk has less than PublishingPoint:MinFreeDiskBytes free (looked at once a second at
    /// most). Ingest stops there, so what the points need to finish what they hold (the 'mfra' indexes, manifests,
    /// events) still fits, and a full disk does not fail them all at once.
    /// </summary>
    public bool DiskLow()
    {
        var now = Environment.TickCount64;
        if (now - Volatile.Read(ref _freeCheckedAt) >= 1000)
        {
            Volatile.Write(ref _freeCheckedAt, now);
            try
            {
                Volatile.Write(ref _freeBytes, new DriveInfo(DataRoot).AvailableFreeSpace);
                Volatile.Write(ref _freeLookFailed, false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // not known: the writes themselves will tell
                Volatile.Write(ref _freeLookFailed, true);
            }
        }

        return Volatile.Read(ref _freeBytes) < Options.MinFreeDiskBytes;
    }

    /// <summary>Bytes the data folder's disk has free (as of the last look, at most a second old; <see cref="long.MaxValue"/> when not known).</summary>
    public long FreeDiskBytes()
    {
        _ = DiskLow();
        return Volatile.Read(ref _freeBytes);
    }

    /// <summary>Whether the last look at the data folder's free space failed (a folder gone or unreadable).</summary>
    public bool FreeSpaceUnreadable
    {
        get
        {
            _ = DiskLow();
            return Volatile.Read(ref _freeLookFailed);
        }
    }

    private bool _freeLookFailed;
    private long _freeCheckedAt = long.MinValue / 2;
    private long _freeBytes = long.MaxValue;

    /// <summary>
    /// Keeps the whole index within PublishingPoint:MaxIndexBytes (<see cref="IndexBudget"/>), counting
    /// <paramref name="loading"/> too: a point being recovered, not registered yet.
    /// </summary>
    public void TrimIndex(Point? loading = null)
    {
        var points = _points.Values.ToList();
        if (loading is not null && !points.Contains(loading))
        {
            points.Add(loading);
        }

        _indexBudget.Trim(points);
    }

    /// <summary>Forgets a point that never got media (a refused or empty push), and its empty folder.</summary>
    public void RemoveIfEmpty(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        if (point.Archives().Length > 0 || point.State == PointState.Live || point.CreatedByOperator || point.Closed
            || !point.RetireIfEmpty(() => _points.TryRemove(new(point.Path.Value, point))))
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

    private FileStream? _dataFolderLock;

    /// <summary>Locks the data folder for this server (<see cref="DataFolderLock"/>) until <see cref="Dispose"/>, after the last archive closed.</summary>
    /// <exception cref="DataFolderInUseException">Another server holds it.</exception>
    internal void TakeDataFolder() => _dataFolderLock ??= DataFolderLock.Take(DataRoot);

    public void Dispose()
    {
        foreach (var point in _points.Values)
        {
            point.Dispose();
        }

        ArchiveFiles.Dispose();
        Interlocked.Exchange(ref _dataFolderLock, null)?.Dispose();
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Publishing point {Point} created")]
    private partial void LogCreated(string point);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Publishing point {Point} removed: no media was accepted")]
    private partial void LogRemovedEmpty(string point);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Publishing point {Point} {Change}")]
    private partial void LogChanged(string point, string change);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "Publishing point {Point}: writing its archive indexes or VOD manifests failed; it is served as VOD from its index, and the next start finalises it again")]
    private partial void LogFinalizeFailed(Exception exception, string point);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Publishing point {Point} finalised to VOD")]
    private partial void LogFinalized(string point);
}
