using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Admin;

/// <param name="BitrateHistory">Ingest bits per second of each 5 s of the last 5 minutes, oldest first.</param>
public sealed record StreamView(
    string Id, int Connections, string? RemoteAddress, DateTimeOffset? ConnectedSince, long Bytes, long Fragments, DateTimeOffset? LastFragmentAt, string? Archive,
    int BitrateBitsPerSecond, IReadOnlyList<int> BitrateHistory);

public sealed record TrackView(
    string Name, string Type, int Bitrate, string Codec, string FourCC, int Width, int Height, int SamplingRate, int Channels,
    int Fragments, double FirstSeconds, double LastSeconds, double BehindLiveEdgeSeconds, long BytesInMemory);

/// <summary>Where players open a point, relative to the server (a signed prefix goes in front when signing is on).</summary>
public sealed record PlaybackUrls(string HlsTs, string HlsFmp4, string Dash, string Smooth);

/// <summary>What the operator API and the dashboard show of a point.</summary>
/// <param name="Viewers">Distinct clients that asked for a manifest, playlist or MPD in the last 30 s.</param>
/// <param name="EgressHistory">Bits per second sent to viewers in each 5 s of the last 5 minutes, oldest first.</param>
/// <param name="Warnings">What an operator should look at: an encoder behind real time, a discontinuity.</param>
public sealed record PointView(
    string Path, string State, bool Closed, bool CreatedByOperator, DateTimeOffset CreatedAt, DateTimeOffset? TimelineAnchor, PointSettings Settings,
    int DvrWindowSeconds, long ArchiveBytes, IReadOnlyList<StreamView> Streams, IReadOnlyList<TrackView> Tracks,
    int Viewers, int EgressBitsPerSecond, IReadOnlyList<int> EgressHistory, PlaybackUrls PlaybackUrls, IReadOnlyList<string> Warnings)
{
    public static PointView Of(Point point, PointRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(registry);
        var defaultWindow = registry.Options.DvrWindowSeconds;
        var now = registry.Time.GetUtcNow();
        var tracks = point.Tracks();
        var edge = Points.Track.EndSeconds(tracks);
        var trackViews = tracks.Select(t => Track(t, edge)).ToArray();
        var streams = point.Streams().Select(s =>
        {
            var history = s.Bitrate.BitsPerSecond(now);
            return new StreamView(s.Id, s.Connections, s.RemoteAddress, s.ConnectedSince, s.Bytes, s.Fragments, s.LastFragmentAt, s.Archive?.FileName, history[^1], history);
        }).ToArray();
        long archiveBytes = 0;
        foreach (var archive in point.Archives())
        {
            archiveBytes += File.Exists(archive.FilePath) ? new FileInfo(archive.FilePath).Length : 0;
        }

        var egress = point.Audience.Egress.BitsPerSecond(now);
        var path = point.Path.Value;
        return new PointView(path, point.State.ToString().ToLowerInvariant(), point.Closed, point.CreatedByOperator, point.CreatedAt, point.TimelineAnchor,
            point.Settings with { IngestSecret = point.Settings.IngestSecret is null ? null : "(set)" }, point.DvrWindowSeconds(defaultWindow), archiveBytes, streams, trackViews,
            point.Audience.Viewers(now), egress[^1], egress,
            new PlaybackUrls($"{path}/master.m3u8", $"{path}/master-fmp4.m3u8", $"{path}/manifest.mpd", $"{path}/Manifest"),
            PointWarnings.Of(point, tracks, now, registry.ArchiveLengthSeconds(point)));
    }

    private static TrackView Track(Track track, double edge)
    {
        var d = track.Description;
        var index = track.Summary();
        var scale = (double)d.Timescale;
        var last = index.LastEnd / scale;
        return new TrackView(
            d.Key.Name, d.Kind == TrackKind.Video ? "video" : "audio", d.Key.Bitrate, CodecString(d), d.FourCC, d.Width, d.Height,
            d.SamplingRate, d.Channels, index.Count, index.FirstTime / scale, last,
            Math.Max(0, edge - last), index.BytesInMemory);
    }

    private static string CodecString(TrackDescription d) => d.Codecs ?? d.FourCC;
}
