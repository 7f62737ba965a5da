using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Admin;

/// <summary>
/// Live-to-VOD clips: copies the fragments of a point that overlap [from, to) into new archive files (one per
/// source archive, same header, an mfra index) in the clip's own point folder, then loads that folder as a VOD
/// point, so the clip is served as Smooth, HLS and DASH like any finished point. Fragments start on keyframes,
/// so the clip is cut on keyframes: it starts at the last keyframe at or before <c>from</c>.
/// </summary>
internal sealed partial class ClipWriter(PointRegistry registry, ArchiveRecovery loader, ILogger<ClipWriter> logger)
{
    // One clip at a time: each fsyncs every fragment it copies to the disk ingest fsyncs to.
    private int _writing;

    public async Task<Point> WriteAsync(Point source, PointPath target, double fromSeconds, double toSeconds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (toSeconds <= fromSeconds)
        {
            throw new PointRuleException(StatusCodes.Status400BadRequest, "a clip ends after it starts");
        }

        using var claim = registry.ReserveNew(target); // 409 for a path taken (or being clipped to) comes first
        if (Interlocked.Exchange(ref _writing, 1) == 1)
        {
            throw new PointRuleException(StatusCodes.Status429TooManyRequests, "another clip is being written: one at a time, try again when it is done");
        }

        try
        {
            return await WriteOneAsync(source, target, fromSeconds, toSeconds, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    private async Task<Point> WriteOneAsync(Point source, PointPath target, double fromSeconds, double toSeconds, CancellationToken cancellationToken)
    {

        // Video decides the cut (its fragments start on keyframes); other tracks follow it, a fragment belonging
        // to the clip when its middle falls inside the video's span, so audio ends where the picture ends.
        var tracks = source.Tracks();
        var selected = new List<(FragmentEntry Fragment, double Seconds)>();
        double spanFrom = fromSeconds, spanTo = toSeconds;
        var video = tracks.Where(t => t.Description.Kind == Media.IsoBmff.TrackKind.Video).ToArray();
        foreach (var track in video)
        {
            var scale = (double)track.Description.Timescale;
            var chosen = track.Snapshot().Where(f => f.End / scale > fromSeconds && f.Time / scale < toSeconds).ToArray();
            selected.AddRange(chosen.Select(f => (f, f.Time / scale)));
            if (track == video[0] && chosen.Length > 0)
            {
                (spanFrom, spanTo) = (chosen[0].Time / scale, chosen[^1].End / scale);
            }
        }

        foreach (var track in tracks.Except(video))
        {
            var scale = (double)track.Description.Timescale;
            foreach (var fragment in track.Snapshot())
            {
                var middle = (fragment.Time + (fragment.Duration / 2.0)) / scale;
                if (middle >= spanFrom && middle < spanTo)
                {
                    selected.Add((fragment, fragment.Time / scale));
                }
            }
        }

        if (selected.Count == 0)
        {
            throw new PointRuleException(StatusCodes.Status404NotFound, "the point holds nothing in that interval");
        }

        RefuseWhatTheDiskCannotTake(selected);
        var directory = registry.DirectoryOf(target);
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            throw new PointRuleException(StatusCodes.Status409Conflict, $"the folder of {target} is not empty");
        }

        // Written beside its folder under a name no point can have, then renamed into place: half a clip (a failure, a
        // crash) would block its path ("not empty") and be recovered as a shorter point at the next start.
        var parent = Path.GetDirectoryName(directory)!;
        var staging = Path.Combine(parent, "." + Path.GetFileName(directory) + ".clip-" + Guid.NewGuid().ToString("N"));
        Durable.CreateDirectory(staging);
        try
        {
            await CopyAsync(selected, staging, source.TimelineAnchor, cancellationToken).ConfigureAwait(false);
            // The source's settings (its own ingest secret among them), and closed: a push to a clip's path would
            // otherwise continue the clip, under the server-wide secret alone (a review's finding).
            source.Settings.Save(staging);
            Durable.WriteFile(Path.Combine(staging, PointRegistry.ClosedMarker), "a clip: ingest is refused until POST /api/points/{path}/open\n"u8);
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory); // empty (looked at above); not empty now means someone else's files: refused here
            }

            Directory.Move(staging, directory);
            Durable.SyncDirectory(parent);
        }
        catch
        {
            RemoveHalfAClip(staging);
            throw;
        }

        var point = loader.Load(target, directory);
        LogClip(source.Path.Value, target.Value, fromSeconds, toSeconds, selected.Count);
        return point;
    }

    // A clip is a copy: it must not take the room the live points need (ingest stops at MinFreeDiskBytes; a clip
    // that went below it would stop every channel with 507, and one that did not fit failed half-written).
    private void RefuseWhatTheDiskCannotTake(List<(FragmentEntry Fragment, double Seconds)> selected)
    {
        var needed = selected.Sum(s => (long)s.Fragment.Length) + (64L * 1024 * selected.Select(s => s.Fragment.Archive).Distinct().Count());
        var free = registry.FreeDiskBytes();
        if (free != long.MaxValue && free - needed < registry.Options.MinFreeDiskBytes)
        {
            throw new PointRuleException(StatusCodes.Status507InsufficientStorage,
                $"the clip needs about {needed} bytes and the data folder's disk has {free} free, of which {registry.Options.MinFreeDiskBytes} are kept for ingest (PublishingPoint:MinFreeDiskBytes)");
        }
    }

    // The staging folder is the clip's alone.
    private static void RemoveHalfAClip(string staging)
    {
        try
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // the failure that brought us here is the one to report
        }
    }

    private async Task CopyAsync(List<(FragmentEntry Fragment, double Seconds)> selected, string directory, DateTimeOffset? anchor, CancellationToken cancellationToken)
    {
        foreach (var group in selected.GroupBy(s => s.Fragment.Archive))
        {
            var path = Path.Combine(directory, group.Key.FileName);
            using var clip = StreamArchive.Create(path, group.Key.Header, registry.Options.FsyncArchive, registry.ArchiveFiles);
            foreach (var (fragment, _) in group.OrderBy(s => s.Seconds))
            {
                // The archive's own track id (a point's track may gather several encoders' archives).
                using var bytes = await fragment.RentAsync(cancellationToken).ConfigureAwait(false);
                clip.Append(bytes.Array.AsSpan(0, fragment.Length), fragment.TrafIn(bytes.Array).TrackId, fragment.Time);
            }

            clip.Seal();
        }

        if (anchor is { } known)
        {
            var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new { anchor = known });
            Durable.WriteFile(Path.Combine(directory, "timeline.json"), json);
        }
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Clip {Target} cut from {Source}, media {From:0.###} s to {To:0.###} s: {Fragments} fragments")]
    private partial void LogClip(string source, string target, double from, double to, int fragments);
}
