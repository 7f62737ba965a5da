namespace PublishingPoint.Server.Points;

/// <summary>
/// Bounds the memory of the whole server's fragment index (PublishingPoint:MaxIndexBytes). An entry lives as long as
/// its archive file belongs to the point, so a point that keeps its archive for ever (ArchiveLengthSeconds 0) would grow
/// the index for as long as it runs. Past the bound, the point holding most of the index forgets its oldest finished
/// archive file: the file stays in the point's folder, its media is no longer served. A file still being written, or
/// holding a track's newest fragment, is never forgotten; PublishingPoint:ArchiveFileMaxFragments bounds how many entries one can hold. A point within its
/// share of the bound (the bound over the number of points) never loses a file to another point's weight.
/// </summary>
internal sealed partial class IndexBudget(long maxBytes, ILogger logger)
{
    /// <summary>
    /// What one fragment of a track costs the index: the entry (112 bytes, its type's measured size) with its slot in
    /// the track's list (8), and its archive file's random-access entry for the 'mfra' (16).
    /// </summary>
    public const int EntryBytes = 136;

    /// <summary>What a low-latency part's layout adds to its fragment's entry (a 24-byte element of its array).</summary>
    public const int PartBytes = 24;

    private readonly Lock _lock = new();

    /// <summary>What the index of <paramref name="point"/> holds in memory, by the figures above.</summary>
    public static long BytesOf(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        return BytesOf(point.Tracks());
    }

    /// <summary>What the index of <paramref name="tracks"/> holds in memory, by the figures above.</summary>
    public static long BytesOf(IEnumerable<Track> tracks) => tracks.Sum(t => ((long)t.Count * EntryBytes) + (t.PartsIndexed * PartBytes));

    /// <summary>Forgets the oldest finished archive files of the heaviest of <paramref name="points"/> until the index fits.</summary>
    public void Trim(IReadOnlyCollection<Point> points)
    {
        lock (_lock)
        {
            while (points.Sum(BytesOf) > maxBytes && ForgetOldestOfHeaviest(points))
            {
            }
        }
    }

    // Only a point over its share of the bound loses a file: one holding little (a VOD beside a long live event whose
    // files are all still being written) keeps its media, and the index stays over the bound by files still being
    // written, which ArchiveFileMaxFragments bounds.
    private bool ForgetOldestOfHeaviest(IReadOnlyCollection<Point> points)
    {
        var share = maxBytes / Math.Max(1, points.Count);
        foreach (var point in points.Where(p => BytesOf(p) > share).OrderByDescending(BytesOf))
        {
            if (point.OldestFinishedArchive() is { } archive)
            {
                var removed = point.Forget(archive);
                LogForgotten(point.Path.Value, archive.FileName, removed, maxBytes);
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning,
        Message = "Publishing point {Point}: archive {File} left the index ({Fragments} fragments), which holds its maximum of {MaxIndexBytes} bytes (PublishingPoint:MaxIndexBytes); the file stays in the point's folder, its media is no longer served")]
    private partial void LogForgotten(string point, string file, int fragments, long maxIndexBytes);
}
