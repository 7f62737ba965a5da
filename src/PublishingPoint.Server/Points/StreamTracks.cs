using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Archive;

namespace PublishingPoint.Server.Points;

/// <summary>The tracks a stream's header declares, named as the point serves them (safe in URLs).</summary>
internal static class StreamTracks
{
    /// <exception cref="PointRuleException">The tracks cannot be named (no bitrate, two alike, none usable).</exception>
    public static Dictionary<uint, TrackDescription> Resolve(ArchiveHeader header, string streamId)
    {
        try
        {
            return TrackResolver.Resolve(header.Tracks, header.Manifest, streamId, PointPath.IsSafeSegment);
        }
        catch (TrackRejectedException e)
        {
            throw PointRuleException.From(e);
        }
    }
}
