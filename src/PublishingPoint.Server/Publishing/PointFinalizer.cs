using System.Globalization;
using Microsoft.Extensions.Options;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Smooth;
using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Configuration;
using PublishingPoint.Server.Delivery.Smooth;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Publishing;

/// <summary>
/// Turns a point whose encoders have all ended into a VOD asset on disk: an 'mfra' at the end of each
/// archive, the server manifest ({name}.ism) and the client manifest ({name}.ismc).
/// </summary>
public sealed class PointFinalizer(IOptions<PublishingPointOptions> options) : IPointFinalizer
{
    /// <summary>
    /// Seals every archive and writes the manifests, each step tried even when one before it failed (a full disk, a
    /// failing one): an IOException after all of them if any failed. An archive left without its 'mfra' is still
    /// served from the index, and the next start finalises it again.
    /// </summary>
    public void Write(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        List<Exception>? failures = null;
        foreach (var archive in point.Archives())
        {
            Try(archive.Seal, ref failures);
        }

        Try(() => WriteManifests(point), ref failures);
        if (failures is not null)
        {
            throw new IOException($"{failures.Count} step(s) of finalising {point.Path.Value} failed: {failures[0].Message}", new AggregateException(failures));
        }
    }

    private static void Try(Action step, ref List<Exception>? failures)
    {
        try
        {
            step();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArchiveGoneException)
        {
            (failures ??= []).Add(e);
        }
    }

    /// <summary>The .ism and .ismc of what the point holds now (a snapshot while live, the VOD ones once final).</summary>
    public void WriteManifests(Point point) => SnapshotManifests(point).Write();

    /// <summary>The .ism and .ismc of what the point holds now, made under the point's lock and written after it.</summary>
    public PointManifests SnapshotManifests(Point point)
    {
        ArgumentNullException.ThrowIfNull(point);
        var name = point.Path.Name;
        var clientManifest = ClientManifestWriter.Write(SmoothManifestBuilder.Build(point, live: false, options.Value.DvrWindowSeconds, 0));
        return new PointManifests(point.Directory, name, clientManifest, ServerManifestWriter.Write(name + ".ismc", ServerTracks(point)));
    }

    private static IEnumerable<ServerManifestTrack> ServerTracks(Point point)
    {
        foreach (var archive in point.Archives())
        {
            foreach (var (trackId, description) in archive.Header.Descriptions)
            {
                var smil = archive.Header.Manifest.FirstOrDefault(t => t.TrackId == trackId);
                var parameters = new Dictionary<string, string>(smil?.Parameters ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase)
                {
                    ["trackID"] = trackId.ToString(CultureInfo.InvariantCulture),
                    ["trackName"] = description.Key.Name,
                    ["systemBitrate"] = description.Key.Bitrate.ToString(CultureInfo.InvariantCulture),
                };
                yield return new ServerManifestTrack
                {
                    Kind = description.Kind == TrackKind.Video ? "video" : "audio",
                    SystemBitrate = description.Key.Bitrate,
                    TrackId = trackId,
                    Source = archive.FileName,
                    Parameters = parameters,
                };
            }
        }
    }
}
