using System.Buffers.Binary;
using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.Tests.IsoBmff;

public sealed class CmafFragmentWriterTests
{
    private const uint NonSync = SampleDefaults.NonSyncFlag;

    [Fact]
    public void ReadsSamplesOfAnEncoderFragmentWithTfhdDefaults()
    {
        var fragment = EncoderFragment(out var payloads);
        var samples = new List<FragmentSample>();

        var count = FragmentSamples.Read(fragment, new SampleDefaults(0, 0, NonSync), 1_000, samples);

        Assert.Equal(3, count);
        Assert.Equal([1_000L, 1_400L, 1_800L], samples.Select(s => s.DecodeTime));
        Assert.Equal([0, 800, -400], samples.Select(s => s.CompositionOffset));
        Assert.Equal([true, false, false], samples.Select(s => s.IsSync));
        for (var i = 0; i < payloads.Length; i++)
        {
            Assert.Equal(payloads[i], fragment.AsSpan(samples[i].DataOffset, samples[i].Size).ToArray());
        }
    }

    [Fact]
    public void WritesStypMoofMdatThatReadsBackToTheSameSamples()
    {
        var fragment = EncoderFragment(out var payloads);
        var samples = new List<FragmentSample>();
        FragmentSamples.Read(fragment, new SampleDefaults(0, 0, NonSync), 1_000, samples);

        var segment = CmafFragmentWriter.Write(fragment, samples.ToArray(), trackId: 2, sequenceNumber: 9, baseDecodeTime: 1_000);

        Assert.Equal(CmafFragmentWriter.GetLength(samples.ToArray()), segment.Length);
        Assert.True(BoxHeader.TryRead(segment, out var styp));
        Assert.Equal(BoxTypes.Styp, styp.Type);
        var moof = segment.AsSpan((int)styp.Size);
        var traf = MovieFragmentReader.Read(moof[..(int)BinaryPrimitives.ReadUInt32BigEndian(moof)]).Single();
        Assert.Equal(2u, traf.TrackId);
        Assert.Equal(1_000L, traf.DecodeTime);
        Assert.Equal(3, traf.SampleCount);
        Assert.True(traf.FirstSampleIsSync);

        var again = new List<FragmentSample>();
        FragmentSamples.Read(moof, default, 1_000, again);
        Assert.Equal(samples.Select(s => (s.DecodeTime, s.Duration, s.CompositionOffset, s.Size, s.Flags)), again.Select(s => (s.DecodeTime, s.Duration, s.CompositionOffset, s.Size, s.Flags)));
        for (var i = 0; i < payloads.Length; i++)
        {
            Assert.Equal(payloads[i], moof.Slice(again[i].DataOffset, again[i].Size).ToArray());
        }
    }

    [Fact]
    public void RefusesAnAbsoluteBaseDataOffset()
    {
        var fragment = EncoderFragment(out _);
        var tfhdFlagsAt = fragment.AsSpan().IndexOf("tfhd"u8) + 4;
        fragment[tfhdFlagsAt + 3] |= 0x01;
        Assert.Throws<InvalidBoxException>(() => FragmentSamples.Read(fragment, default, 0, []));
    }

    // moof(mfhd, traf(tfhd default duration 400 + default flags, trun v1 [size, flags for the first, cto])) + mdat
    private static byte[] EncoderFragment(out byte[][] payloads)
    {
        payloads = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]];
        const int TfhdSize = 8 + 8 + 8;
        const int TrunSize = 8 + 16 + (3 * 8);
        const int TrafSize = 8 + TfhdSize + TrunSize;
        const int MoofSize = 8 + 16 + TrafSize;
        var mdatSize = 8 + payloads.Sum(p => p.Length);
        var bytes = new byte[MoofSize + mdatSize];
        var span = bytes.AsSpan();
        var at = BoxHeader.Write(span, BoxTypes.Moof, MoofSize);
        at += BoxHeader.Write(span[at..], BoxTypes.Mfhd, 16) + 8;
        at += BoxHeader.Write(span[at..], BoxTypes.Traf, TrafSize);
        at += BoxHeader.Write(span[at..], BoxTypes.Tfhd, TfhdSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], 0x020000 | 0x08 | 0x20);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], 1);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 8)..], 400);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 12)..], NonSync);
        at += 16;
        at += BoxHeader.Write(span[at..], BoxTypes.Trun, TrunSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], 0x0100_0000 | 0x001 | 0x004 | 0x200 | 0x800);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], 3);
        BinaryPrimitives.WriteInt32BigEndian(span[(at + 8)..], MoofSize + 8);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 12)..], 0);
        at += 16;
        int[] offsets = [0, 800, -400];
        for (var i = 0; i < 3; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(span[at..], (uint)payloads[i].Length);
            BinaryPrimitives.WriteInt32BigEndian(span[(at + 4)..], offsets[i]);
            at += 8;
        }

        at += BoxHeader.Write(span[at..], BoxTypes.Mdat, mdatSize);
        foreach (var payload in payloads)
        {
            payload.CopyTo(span[at..]);
            at += payload.Length;
        }

        return bytes;
    }
}
