using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Admin;

public sealed record StreamView(string Id, int Connections, string? RemoteAddress, DateTimeOffset? ConnectedSince, long Bytes, long Fragments, DateTimeOffset? LastFragmentAt, string? Archive);

public sealed record TrackView(
    string Name, string Type, int Bitrate, string Codec, string FourCC, int Width, int Height, int SamplingRate, int Channels,
    int Fragments, double FirstSeconds, double LastSeconds, double BehindLiveEdgeSeconds, long BytesInMemory);

/// <summary>What the operator API and the dashboard show of a point.</summary>
public sealed record PointView(
    string Path, string State, bool Closed, bool CreatedByOperator, DateTimeOffset CreatedAt, DateTimeOffset? TimelineAnchor, PointSettings Settings,
    int DvrWindowSeconds, long ArchiveBytes, IReadOnlyList<StreamView> Streams, IReadOnlyList<TrackView> Tracks)
{
    public static PointView Of(Point point, int defaultWindow)
    {
        ArgumentNullException.ThrowIfNull(point);
        var tracks = point.Tracks();
        var edge = tracks.Select(t => t.Last is { } last ? (double)last.End / t.Description.Timescale : 0).DefaultIfEmpty(0).Max();
        var trackViews = tracks.Select(t => Track(t, edge)).ToArray();
        var streams = point.Streams().Select(s => new StreamView(
            s.Id, s.Connections, s.RemoteAddress, s.ConnectedSince, s.Bytes, s.Fragments, s.LastFragmentAt, s.Archive?.FileName)).ToArray();
        long archiveBytes = 0;
        foreach (var archive in point.Archives())
        {
            archiveBytes += File.Exists(archive.FilePath) ? new FileInfo(archive.FilePath).Length : 0;
        }

        return new PointView(point.Path.Value, point.State.ToString().ToLowerInvariant(), point.Closed, point.CreatedByOperator, point.CreatedAt, point.TimelineAnchor,
            point.Settings with { IngestSecret = point.Settings.IngestSecret is null ? null : "(set)" }, point.DvrWindowSeconds(defaultWindow), archiveBytes, streams, trackViews);
    }

    private static TrackView Track(Track track, double edge)
    {
        var d = track.Description;
        var fragments = track.Snapshot();
        var scale = (double)d.Timescale;
        long inMemory = 0;
        foreach (var f in fragments)
        {
            inMemory += f.Data?.Length ?? 0;
        }

        var last = fragments.Length == 0 ? 0 : fragments[^1].End / scale;
        return new TrackView(
            d.Key.Name, d.Kind == TrackKind.Video ? "video" : "audio", d.Key.Bitrate, CodecString(d), d.FourCC, d.Width, d.Height,
            d.SamplingRate, d.Channels, fragments.Length, fragments.Length == 0 ? 0 : fragments[0].Time / scale, last,
            Math.Max(0, edge - last), inMemory);
    }

    private static string CodecString(TrackDescription d)
    {
        try
        {
            return d.Kind == TrackKind.Video
                ? AvcDecoderConfiguration.Parse(d.Info.DecoderConfig).CodecString
                : AudioSpecificConfig.Parse(d.Info.DecoderConfig).CodecString;
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or ArgumentException or IndexOutOfRangeException)
        {
            return d.FourCC;
        }
    }
}
