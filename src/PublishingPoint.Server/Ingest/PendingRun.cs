using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Archive;

namespace PublishingPoint.Server.Ingest;

/// <summary>Low-latency chunks of one track gathered until they make a fragment (a keyframe, a segment boundary, the end).</summary>
internal sealed class PendingRun(StreamArchive archive, long time)
{
    public StreamArchive Archive { get; } = archive;

    public long Time { get; } = time;

    public long End { get; private set; } = time;

    public List<FragmentPart> Parts { get; } = [];

    public long Bytes { get; private set; }

    public void Add(FragmentPart part, long duration)
    {
        Parts.Add(part);
        End += duration;
        Bytes += part.Bytes.Length;
    }
}
