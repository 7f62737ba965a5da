using System.Text.Json;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Publishing;

/// <summary>
/// Where one rendition's publishing stands: the next segment to put, the oldest in the store, where the run ending at
/// next begins, and the runs of older segments still to put behind the live window ([from, to] pairs; see <see cref="BackfillRanges"/>).
/// </summary>
internal sealed record RenditionProgress(long Next, long StoreFrom, long RunStart, long[][]? Backfill = null);

/// <summary>
/// A point's publishing progress in its folder (<c>publish-progress.json</c>), so a restarted server goes on where it
/// stopped instead of putting the whole retained archive again before its first playlist (and, windowed, still deletes
/// what it put before the restart). It is written after the store took what it names, so it may lag the store (those
/// segments are put again, which is harmless) but never runs ahead of it. It holds for one store and one set of
/// formats; another target starts from the beginning.
/// </summary>
internal sealed record PublishProgress(string Target, Dictionary<string, RenditionProgress> Renditions)
{
    public const string FileName = "publish-progress.json";

    public static string Key(Rendition rendition) => Delivery.Hls.HlsPlaylistBuilder.Name(rendition.Track) + "|" + rendition.Format;

    /// <summary>What the point's folder says for <paramref name="target"/>; empty when nothing (or something unreadable, or another target's).</summary>
    public static Dictionary<string, RenditionProgress> Load(string directory, string target)
    {
        try
        {
            var path = Path.Combine(directory, FileName);
            if (File.Exists(path) && JsonSerializer.Deserialize<PublishProgress>(File.ReadAllBytes(path)) is { } saved
                && saved.Target == target && saved.Renditions is not null)
            {
                return new Dictionary<string, RenditionProgress>(saved.Renditions, StringComparer.Ordinal);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            // publishing starts from the beginning, as it did before there was a file
        }

        return new(StringComparer.Ordinal);
    }

    /// <summary>
    /// Writes the file unless the point was retired (deleted, or moved to previous-N by a restart on reconnect: its
    /// folder belongs to another presentation then). Under the point's folder lock, which retiring takes too.
    /// </summary>
    public void Save(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(this);
        try
        {
            point.WriteInFolder(folder =>
            {
                // Synced: after a power cut an empty file would be ignored and the whole kept archive put again.
                Archive.Durable.WriteFile(Path.Combine(folder, FileName), bytes);
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // only saves putting segments again after a restart
        }
    }
}
