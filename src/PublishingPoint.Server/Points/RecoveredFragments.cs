using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Server.Points;

/// <summary>
/// Fragments read back from a point's archive files, held until they can join their tracks in time order (a track
/// takes recovered fragments only so): redundant encoders, two stream ids feeding one track, interleave it over their
/// files. The files are read in the order their media starts, so what starts before the next file's media can go.
/// </summary>
internal sealed class RecoveredFragments
{
    private readonly Dictionary<Track, List<(FragmentEntry Entry, FragmentSample[] Samples)>> _pending = [];

    /// <param name="samples">The fragment's samples when it is the first of its track in its file (the track's first one is
    /// such a fragment, and only that one's are read); empty otherwise, so a file's tables are not all kept.</param>
    public void Add(Track track, FragmentEntry entry, FragmentSample[] samples)
    {
        if (!_pending.TryGetValue(track, out var list))
        {
            list = [];
            _pending[track] = list;
        }

        list.Add((entry, samples));
    }

    /// <summary>Hands every fragment that starts before <paramref name="seconds"/> (media time) to its track, oldest first.</summary>
    public void AddBefore(double seconds)
    {
        foreach (var (track, list) in _pending)
        {
            list.Sort(static (a, b) => a.Entry.Time.CompareTo(b.Entry.Time));
            var limit = seconds * track.Description.Timescale;
            var count = 0;
            while (count < list.Count && list[count].Entry.Time < limit)
            {
                track.AddRecovered(list[count].Entry, list[count].Samples);
                count++;
            }

            list.RemoveRange(0, count);
        }
    }
}
