using System.Buffers.Binary;
using System.Text;
using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.Tests.IsoBmff;

/// <summary>
/// A 'trun' whose samples carry no fields of their own takes no bytes per sample: a 20-byte box can announce two billion
/// samples, which the readers would walk (and list) one by one. Every reader refuses more than
/// <see cref="TrackRunReader.MaxSamples"/> in a fragment, in one run or in several.
/// </summary>
public sealed class SampleCountBoundTests
{
    [Fact]
    public void ARunOfTwoBillionFieldlessSamples_IsRefused_AtOnce()
    {
        var moof = Moof(0x7FFF_FFFF);
        Assert.Throws<InvalidBoxException>(() => MovieFragmentReader.Read(moof));
        Assert.Throws<InvalidBoxException>(() => FragmentSamples.Read(moof, moof.Length, default, 0, []));
    }

    [Fact]
    public void RunsThatTogetherHoldTooMany_AreRefused_AndTheLimitItselfIsRead()
    {
        var half = TrackRunReader.MaxSamples / 2 + 1;
        Assert.Throws<InvalidBoxException>(() => MovieFragmentReader.Read(Moof(half, half)));
        Assert.Throws<InvalidBoxException>(() => FragmentSamples.Read(Moof(half, half), 1 << 20, default, 0, []));

        var atTheLimit = Moof(TrackRunReader.MaxSamples);
        Assert.Equal(TrackRunReader.MaxSamples, Assert.Single(MovieFragmentReader.Read(atTheLimit)).SampleCount);
    }

    /// <summary>
    /// The bound was per track fragment: a 'moof' of many track fragments, each just under it, was read sample by sample
    /// (a review's finding: minutes of a core for one box). It holds for the whole box now, and a box holds at most
    /// <see cref="MovieFragmentReader.MaxTrackFragments"/> track fragments.
    /// </summary>
    [Fact]
    public void TrackFragmentsThatTogetherHoldTooMany_AreRefused_AsAreTooManyTrackFragments()
    {
        var near = TrackRunReader.MaxSamples - 1;
        var tooMany = Assert.Throws<InvalidBoxException>(() => MovieFragmentReader.Read(MoofOf(MultiTrack([near, near], sampleSize: 0, mdatPayload: 0))));
        Assert.Contains("samples", tooMany.Message, StringComparison.Ordinal);
        Assert.Equal(2, MovieFragmentReader.Read(MoofOf(MultiTrack([near / 2, near / 2], sampleSize: 0, mdatPayload: 0))).Count);
        var tooManyFragments = MultiTrack([.. Enumerable.Repeat(1, MovieFragmentReader.MaxTrackFragments + 1)], sampleSize: 0, mdatPayload: 0);
        Assert.Contains("track fragments", Assert.Throws<InvalidBoxException>(() => MovieFragmentReader.Read(MoofOf(tooManyFragments))).Message, StringComparison.Ordinal);
        Assert.Equal(MovieFragmentReader.MaxTrackFragments, MovieFragmentReader.Read(MoofOf(MultiTrack([.. Enumerable.Repeat(1, MovieFragmentReader.MaxTrackFragments)], sampleSize: 0, mdatPayload: 0))).Count);
    }

    /// <summary>
    /// Track fragments whose samples all name the same bytes of the 'mdat' (base is the 'moof', one data offset) were
    /// each copied out whole: 1,000 of them over a 64 MB 'mdat' allocated 64 GB (a review's finding). Together they must
    /// fit in the 'mdat' now, and a track has one track fragment in a box.
    /// </summary>
    [Fact]
    public void TrackFragmentsNamingTheSameBytes_AreNotSplit()
    {
        var overlapping = MultiTrack([1, 1, 1], sampleSize: 1000, mdatPayload: 1000);
        var moofLength = (int)BinaryPrimitives.ReadUInt32BigEndian(overlapping);
        var trafs = MovieFragmentReader.Read(overlapping.AsSpan(0, moofLength));
        Assert.Contains("more sample bytes", Assert.Throws<InvalidBoxException>(() => FragmentSplitter.Split(overlapping, moofLength, trafs)).Message, StringComparison.Ordinal);

        var sameTrack = MultiTrack([1, 1], sampleSize: 500, mdatPayload: 1000, sameTrack: true, contiguous: true);
        moofLength = (int)BinaryPrimitives.ReadUInt32BigEndian(sameTrack);
        Assert.Contains("one track", Assert.Throws<InvalidBoxException>(() => FragmentSplitter.Split(sameTrack, moofLength, MovieFragmentReader.Read(sameTrack.AsSpan(0, moofLength)))).Message, StringComparison.Ordinal);

        var fine = MultiTrack([1, 1], sampleSize: 500, mdatPayload: 1000, contiguous: true);
        moofLength = (int)BinaryPrimitives.ReadUInt32BigEndian(fine);
        Assert.Equal(2, FragmentSplitter.Split(fine, moofLength, MovieFragmentReader.Read(fine.AsSpan(0, moofLength))).Count);
    }

    private static byte[] MoofOf(byte[] fragment) => fragment[..(int)BinaryPrimitives.ReadUInt32BigEndian(fragment)];

    // moof { mfhd, traf { tfhd (track i + 1, or 1, base is moof, default sample size), trun (count, data offset) } per count }, mdat.
    // Every track fragment's data starts at the mdat's payload, or (contiguous) right after the one before.
    private static byte[] MultiTrack(int[] counts, int sampleSize, int mdatPayload, bool sameTrack = false, bool contiguous = false)
    {
        const int TrafSize = 8 + 20 + 20;
        var moofSize = 8 + 16 + (TrafSize * counts.Length);
        var bytes = new byte[moofSize + 8 + mdatPayload];
        var at = Box(bytes, 0, moofSize, "moof");
        at = Box(bytes, at, 16, "mfhd");
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 4), 1);
        at += 8;
        var offset = moofSize + 8;
        for (var i = 0; i < counts.Length; i++)
        {
            at = Box(bytes, at, TrafSize, "traf");
            at = Box(bytes, at, 20, "tfhd");
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), 0x020000 | 0x10);
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 4), sameTrack ? 1u : (uint)(i + 1));
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 8), (uint)sampleSize);
            at += 12;
            at = Box(bytes, at, 20, "trun");
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), TrunBox.DataOffsetPresent);
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 4), (uint)counts[i]);
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(at + 8), offset);
            at += 12;
            offset += contiguous ? counts[i] * sampleSize : 0;
        }

        Box(bytes, at, 8 + mdatPayload, "mdat");
        return bytes;
    }

    // moof { mfhd, traf { tfhd (track 1, base is moof, no defaults), trun (data offset only) per count } }
    private static byte[] Moof(params int[] counts)
    {
        var trafSize = 8 + 16 + (20 * counts.Length);
        var moof = new byte[8 + 16 + trafSize];
        var at = Box(moof, 0, moof.Length, "moof");
        at = Box(moof, at, 16, "mfhd");
        BinaryPrimitives.WriteUInt32BigEndian(moof.AsSpan(at + 4), 1);
        at += 8;
        at = Box(moof, at, trafSize, "traf");
        at = Box(moof, at, 16, "tfhd");
        BinaryPrimitives.WriteUInt32BigEndian(moof.AsSpan(at), 0x020000);
        BinaryPrimitives.WriteUInt32BigEndian(moof.AsSpan(at + 4), 1);
        at += 8;
        foreach (var count in counts)
        {
            at = Box(moof, at, 20, "trun");
            BinaryPrimitives.WriteUInt32BigEndian(moof.AsSpan(at), TrunBox.DataOffsetPresent);
            BinaryPrimitives.WriteUInt32BigEndian(moof.AsSpan(at + 4), (uint)count);
            BinaryPrimitives.WriteInt32BigEndian(moof.AsSpan(at + 8), moof.Length);
            at += 12;
        }

        return moof;
    }

    private static int Box(byte[] bytes, int at, int size, string type)
    {
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), (uint)size);
        Encoding.ASCII.GetBytes(type, bytes.AsSpan(at + 4));
        return at + 8;
    }
}
