using PublishingPoint.Server.Archive;

namespace PublishingPoint.Server.Points;

/// <summary>
/// At start-up, rebuilds every point from its archive files before the server takes requests: finished
/// points come back as VOD, points cut off by a crash are cut at their last complete fragment and finalised.
/// </summary>
internal sealed partial class ArchiveRecovery(PointRegistry registry, ILogger<ArchiveRecovery> logger) : IHostedService
{
    private volatile bool _recovered;

    /// <summary>Every point on disk is back: until then the server is not ready.</summary>
    public bool Recovered => _recovered;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        registry.TakeDataFolder();
        RemoveLeftovers(".*" + PointPath.Extension + ".clip-*", "a clip cut off while it was written");
        RemoveLeftovers(".*" + PointPath.Extension + PointRegistry.TombstoneMark + "*", "a point whose delete was cut off");
        foreach (var directory in Directory.EnumerateDirectories(registry.DataRoot, "*" + PointPath.Extension, EveryReadableFolder))
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
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Whatever one point's files do (a damaged box, an unreadable side file), the others start.
                // a damaged point.json among them: its settings (its own ingest secret, say) are unknown, so the point is left as it is
                LogFailed(e, path.Value);
                if (registry.Find(path) is null)
                {
                    registry.HoldUnrecovered(path); // (one registered before its finalising failed is served, and deletable)
                }
            }
        }

        _recovered = true;
        return Task.CompletedTask;
    }

    // The data folder stays locked until the registry has closed its archives (its Dispose), not only until the host stops
    // taking requests: a handler may still be writing (a stalled disk outlasts the shutdown timeout).
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // Every point's folder below the data folder, dot-named ones too (clips being written), without stopping at a
    // folder the server may not open (a root-only lost+found on a mounted disk): that would keep every point down.
    private static readonly EnumerationOptions EveryReadableFolder = new()
    {
        RecurseSubdirectories = true,
        IgnoreInaccessible = true,
        AttributesToSkip = 0,
        MatchType = MatchType.Win32,
    };

    /// <summary>
    /// A point whose encoder was still pushing when the server stopped (an archive without 'mfra') stays live for
    /// FinalizeGraceSeconds, as after any dropped encoder: a redundant origin that restarts keeps its playlists open
    /// for the encoder to reconnect rather than end them. Otherwise, and after that grace, it is finalised.
    /// </summary>
    private void Recover(PointPath path, string directory)
    {
        if (PointRegistry.FinishInterruptedRestart(directory) is not null)
        {
            LogRestartFinished(path.Value);
        }

        var point = Load(path, directory, finalize: false);
        var grace = TimeSpan.FromSeconds(registry.Options.FinalizeGraceSeconds);
        if (point.Archives().All(a => a.IsFinalized) || grace <= TimeSpan.Zero)
        {
            registry.Finalize(point);
            return;
        }

        LogAwaitingEncoder(path.Value, (int)grace.TotalSeconds);
        _ = FinalizeLaterAsync(point, grace);
    }

    private async Task FinalizeLaterAsync(Point point, TimeSpan grace)
    {
        var connects = point.Connects;
        await Task.Delay(grace, registry.Time).ConfigureAwait(false);
        // An encoder that came back meanwhile finalises it from its own end (a segmenting one's PUTs each come and go).
        if (registry.Find(point.Path) == point && point.Connects == connects)
        {
            registry.Finalize(point);
        }
    }

    /// <summary>
    /// Builds a point from the archives in its folder, registers it and finalises it (a VOD asset). Each archive is
    /// read on its own: one that cannot be read is left as it is and logged, and the others are still served.
    /// </summary>
    public Point Load(PointPath path, string directory, bool finalize = true)
    {
        var settings = PointSettings.Load(directory);
        var point = new Point(path, directory, registry.Options.MaxRenderedBytesPerPoint, registry.FragmentMemory) { Settings = settings ?? new PointSettings(), CreatedByOperator = settings is not null };
        point.LoadTimeline();
        point.LoadEvents();
        if (File.Exists(Path.Combine(directory, PointRegistry.ClosedMarker)))
        {
            point.Close(); // an operator closed it before the restart
        }

        long fragments = 0, torn = 0;
        var files = InMediaOrder(Directory.EnumerateFiles(directory, "*.ismv"));
        var recovered = new RecoveredFragments();
        var streams = new List<(string StreamId, StreamArchive Archive)>();
        for (var i = 0; i < files.Count; i++)
        {
            try
            {
                (var added, var tail) = LoadArchive(point, files[i].File, recovered, streams);
                fragments += added;
                torn += tail;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogArchiveFailed(e, files[i].File);
            }

            // A later file's fragments start after its first one, less the skew between its tracks.
            recovered.AddBefore(i + 1 < files.Count ? files[i + 1].Start - TrackSkewSeconds : double.PositiveInfinity);
            registry.TrimIndex(point);
        }

        // Each stream continues from its newest file still part of the point (the index bound may have let older ones go).
        var kept = point.Archives();
        foreach (var stream in streams.Where(s => kept.Contains(s.Archive)).GroupBy(s => s.StreamId))
        {
            point.RestoreStream(stream.Key, stream.MaxBy(s => double.IsNaN(s.Archive.LastEndSeconds) ? double.MinValue : s.Archive.LastEndSeconds).Archive);
        }

        registry.AddRecovered(point);
        if (finalize)
        {
            registry.Finalize(point);
        }

        LogRecovered(path.Value, fragments, torn);
        return point;
    }

    // How far a file's other tracks may start before its first fragment (an audio fragment before the keyframe).
    private const double TrackSkewSeconds = 10;

    /// <summary>
    /// The files by when their media starts: a track takes recovered fragments only in time order, and names do not
    /// give it ("a.10.ismv" sorts before "a.2.ismv", and a rollover may reuse the name of a file deleted past the
    /// archive's length). A file that cannot be read first comes last; it is logged when loaded.
    /// </summary>
    private List<(string File, double Start)> InMediaOrder(IEnumerable<string> files)
    {
        var starts = new List<(string File, double Start)>();
        foreach (var file in files)
        {
            double? start;
            try
            {
                start = ArchiveScanner.FirstSeconds(file, registry.Options.MaxBoxBytes);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                start = null;
            }

            starts.Add((file, start ?? double.MaxValue));
        }

        return [.. starts.OrderBy(s => s.Start).ThenBy(s => s.File, StringComparer.Ordinal)];
    }

    private (long Fragments, long TornBytes) LoadArchive(Point point, string file, RecoveredFragments recovered, List<(string StreamId, StreamArchive Archive)> streams)
    {
        var scanned = ArchiveScanner.Scan(file, registry.Options.MaxBoxBytes, Math.Max(registry.Options.MaxFragmentLeadSeconds, Ingest.StreamIndexer.MaxPendingSeconds));
        if (scanned is null)
        {
            LogSkipped(file);
            return (0, 0);
        }

        if (scanned.Unreadable > 0)
        {
            LogUnreadable(file, scanned.Unreadable);
        }

        var streamId = ArchiveNames.StreamOf(file);
        var descriptions = StreamTracks.Resolve(scanned.Header, streamId);
        var header = scanned.Header with { Descriptions = descriptions };
        var tracks = point.BindTracks(descriptions, out var conflict);
        if (conflict is not null)
        {
            LogConflict(file, conflict);
            return (0, 0);
        }

        if (scanned.TornBytes > 0)
        {
            Quarantine(file, scanned.ValidLength);
        }

        var archive = StreamArchive.OpenRecovered(file, header, scanned.ValidLength, scanned.MfraOffset, registry.Options.FsyncArchive, registry.ArchiveFiles,
            scanned.Fragments.Select(f => (f.Traf.TrackId, new Media.IsoBmff.RandomAccessEntry(f.Time, f.Offset))));
        point.AddRecoveredArchive(archive);
        streams.Add((streamId, archive));
        long added = 0;
        var seen = new HashSet<Track>();
        foreach (var f in scanned.Fragments)
        {
            if (tracks.TryGetValue(f.Traf.TrackId, out var track))
            {
                var scale = (double)track.Description.Timescale;
                archive.Observe(f.Time / scale, (f.Time + f.Duration) / scale);
                recovered.Add(track, new FragmentEntry(f.Time, f.Duration, f.Traf, f.Samples, archive, f.Offset, f.Length, null), seen.Add(track) ? f.Samples : []);
                added++;
            }
        }

        ObserveCaptions(file, scanned, tracks);
        return (added, scanned.TornBytes);
    }

    /// <summary>Reads each video track's first fragment of this file once (its own handle, closed at once) for captions.</summary>
    private static void ObserveCaptions(string file, ScannedArchive scanned, Dictionary<uint, Track> tracks)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        foreach (var (trackId, track) in tracks)
        {
            if (track.Description.Avc is null || track.Captions != Media.Codecs.H264.CaptionKinds.None
                || scanned.Fragments.FirstOrDefault(f => f.Traf.TrackId == trackId) is not { } first)
            {
                continue;
            }

            var bytes = new byte[first.Length];
            stream.Position = first.Offset;
            stream.ReadExactly(bytes);
            track.ObserveCaptions(bytes, first.Samples);
        }
    }

    /// <summary>
    /// The bytes after the last complete fragment (a write cut by a crash, never acknowledged) are moved, not lost: copied
    /// to "{file}.torn-{offset}" and synced before the archive is cut back to its last complete fragment, so it can be
    /// appended to and indexed again.
    /// </summary>
    private void Quarantine(string file, long validLength)
    {
        var aside = $"{file}.torn-{validLength}";
        using (var source = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.Read))
        {
            var torn = source.Length - validLength;
            FileStream? target = null;
            try
            {
                using (target = CreateAside(ref aside))
                {
                    source.Position = validLength;
                    source.CopyTo(target);
                    target.Flush(flushToDisk: true);
                }

                Durable.SyncDirectory(Path.GetDirectoryName(file)!);
                LogQuarantined(file, torn, aside);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // No copy (a full disk, say): the file is still cut back, as its fragments before the tear were
                // acknowledged and the torn bytes never were; leaving it unindexed would stop serving them until a
                // restart that finds room.
                if (target is not null)
                {
                    File.Delete(aside);
                }

                LogQuarantineFailed(e, file, torn);
            }

            source.SetLength(validLength);
            source.Flush(flushToDisk: true);
        }
    }

    [LoggerMessage(EventId = 310, Level = LogLevel.Error, Message = "Archive {Path}: the {Bytes} bytes after its last complete fragment could not be set aside and are dropped (never acknowledged); its complete fragments are served")]
    private partial void LogQuarantineFailed(Exception exception, string path, long bytes);

    // A second crash at the same offset sets aside other bytes: they go beside the first ones ("-2", ...), never over them.
    private static FileStream CreateAside(ref string aside)
    {
        var name = aside;
        for (var n = 2; ; n++)
        {
            try
            {
                var stream = new FileStream(name, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                aside = name;
                return stream;
            }
            catch (IOException) when (File.Exists(name) && n < 1000)
            {
                name = $"{aside}-{n}";
            }
        }
    }

    [LoggerMessage(EventId = 307, Level = LogLevel.Information, Message = "Recovered point {Point} was live when the server stopped: live for {Seconds} s more for its encoder to reconnect")]
    private partial void LogAwaitingEncoder(string point, int seconds);

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Recovered point {Point}: {Fragments} fragments from disk, {Torn} bytes of an incomplete fragment set aside")]
    private partial void LogRecovered(string point, long fragments, long torn);

    // A clip is written in a folder of its own beside its place (ClipWriter) and renamed into it when complete, and a
    // deleted point's folder is renamed aside before it is removed (PointRegistry): such a folder still there was cut
    // off by a crash or a stop.
    private void RemoveLeftovers(string pattern, string what)
    {
        foreach (var leftover in Directory.EnumerateDirectories(registry.DataRoot, pattern, EveryReadableFolder))
        {
            try
            {
                Directory.Delete(leftover, recursive: true);
                LogLeftover(leftover, what);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogFailed(e, leftover);
            }
        }
    }

    [LoggerMessage(EventId = 308, Level = LogLevel.Warning, Message = "Removed {Path}: {What}")]
    private partial void LogLeftover(string path, string what);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Not recovering {Path}: not a valid point or archive")]
    private partial void LogSkipped(string path);

    [LoggerMessage(EventId = 309, Level = LogLevel.Warning, Message = "Point {Point}: a restart on reconnect was cut off while it moved the previous presentation aside; the move is finished")]
    private partial void LogRestartFinished(string point);

    [LoggerMessage(EventId = 302, Level = LogLevel.Error, Message = "Recovering point {Point} failed")]
    private partial void LogFailed(Exception exception, string point);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "Not recovering archive {Path}: {Conflict}")]
    private partial void LogConflict(string path, string conflict);

    [LoggerMessage(EventId = 304, Level = LogLevel.Error, Message = "Archive {Path} could not be read; it is left as it is and the point's other archives are served")]
    private partial void LogArchiveFailed(Exception exception, string path);

    [LoggerMessage(EventId = 305, Level = LogLevel.Warning, Message = "Archive {Path}: {Bytes} bytes after its last complete fragment were moved to {Aside}")]
    private partial void LogQuarantined(string path, long bytes, string aside);

    [LoggerMessage(EventId = 306, Level = LogLevel.Warning, Message = "Archive {Path}: {Count} fragments could not be read and are not served (their bytes stay in the file)")]
    private partial void LogUnreadable(string path, int count);
}
