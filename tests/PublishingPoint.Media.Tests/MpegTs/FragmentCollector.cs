using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.MpegTs;

namespace PublishingPoint.Media.Tests.MpegTs;

/// <summary>Keeps every init segment and fragment a <see cref="TsFragmenter"/> produces, per track.</summary>
internal sealed class FragmentCollector : IFragmentSink
{
    public Dictionary<uint, List<byte[]>> Inits { get; } = [];
    public Dictionary<uint, List<MediaFragment>> Fragments { get; } = [];
    public Dictionary<uint, MovieTrack> Tracks { get; } = [];

    public void OnInitSegment(MovieTrack track, ReadOnlyMemory<byte> initSegment)
    {
        Tracks[track.TrackId] = track;
        Get(Inits, track.TrackId).Add(initSegment.ToArray());
    }

    public void OnFragment(in MediaFragment fragment) => Get(Fragments, fragment.TrackId).Add(fragment);

    public List<MediaFragment> FragmentsOf(uint trackId) => Fragments.GetValueOrDefault(trackId) ?? [];

    /// <summary>The track as one fragmented MP4 file: its first init segment, then every fragment.</summary>
    public byte[] File(uint trackId)
    {
        using var stream = new MemoryStream();
        stream.Write(Inits[trackId][0]);
        foreach (var fragment in FragmentsOf(trackId))
        {
            stream.Write(fragment.Data.Span);
        }

        return stream.ToArray();
    }

    private static List<T> Get<T>(Dictionary<uint, List<T>> map, uint key)
    {
        if (!map.TryGetValue(key, out var list))
        {
            map[key] = list = [];
        }

        return list;
    }
}
