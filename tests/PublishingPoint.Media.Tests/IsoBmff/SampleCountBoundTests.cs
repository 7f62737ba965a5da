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
