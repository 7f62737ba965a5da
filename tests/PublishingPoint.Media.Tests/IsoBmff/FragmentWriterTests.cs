using System.Buffers;
using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.Tests.IsoBmff;

public class FragmentWriterTests
{
    private static readonly OutputSample[] Samples =
    [
        OutputSample.Create(3600, 5, isSync: true, compositionOffset: 7200),
        OutputSample.Create(3600, 3, isSync: false, compositionOffset: -3600),
        OutputSample.Create(3000, 0, isSync: false, compositionOffset: 0),
        OutputSample.Create(4200, 2, isSync: false, compositionOffset: 3600),
    ];

    private static readonly byte[] Data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTripsThroughMovieFragmentReaderAndTrackRunReader(bool withStyp)
    {
        var header = new FragmentHeader(42, 3, 10_000_000_000L, withStyp);
        var length = FragmentWriter.GetLength(header, Samples);
        var buffer = new byte[length + 8];
        Array.Fill(buffer, (byte)0xFF);
        Assert.Equal(length, FragmentWriter.Write(buffer, header, Samples, Data));
        Assert.All(buffer[length..], b => Assert.Equal(0xFF, b));

        var top = new BoxReader(buffer.AsSpan(0, length));
        if (withStyp)
        {
            Assert.True(top.TryNext());
            Assert.Equal(BoxTypes.Styp, top.Header.Type);
        }

        Assert.True(top.TryNext());
        Assert.Equal(BoxTypes.Moof, top.Header.Type);
        var moofOffset = top.Offset;
        var moof = buffer.AsSpan(moofOffset, (int)top.Header.Size);
        Assert.True(top.TryNext());
        Assert.Equal(BoxTypes.Mdat, top.Header.Type);
        Assert.Equal(Data, top.Payload.ToArray());
        Assert.False(top.TryNext());

        var mfhd = MovieFragmentReaderChild(moof, BoxTypes.Mfhd);
        Assert.Equal(42u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(mfhd[4..]));

        var fragment = Assert.Single(MovieFragmentReader.Read(moof));
        Assert.Equal(3u, fragment.TrackId);
        Assert.Equal(4, fragment.SampleCount);
        Assert.Equal(14_400, fragment.SummedDuration);
        Assert.Equal(10, fragment.DataSize);
        Assert.Equal(10_000_000_000L, fragment.DecodeTime);
        Assert.True(fragment.FirstSampleIsSync);
        Assert.False(fragment.HasExplicitBaseOffset);
        Assert.Equal(Data, buffer.AsSpan(moofOffset + (int)fragment.DataOffset, 10).ToArray());

        var traf = MovieFragmentReaderChild(moof, BoxTypes.Traf);
        var trun = MovieReader.Child(traf, BoxTypes.Trun);
        var run = new TrackRunReader(trun, default);
        for (var i = 0; i < Samples.Length; i++)
        {
            Assert.True(run.TryNext(out var sample));
            Assert.Equal(Samples[i].Duration, sample.Duration);
            Assert.Equal((uint)Samples[i].Size, sample.Size);
            Assert.Equal(Samples[i].Flags, sample.Flags);
            Assert.Equal(Samples[i].CompositionOffset, sample.CompositionOffset);
            Assert.Equal(i == 0, SampleDefaults.IsSync(sample.Flags));
        }

        Assert.False(run.TryNext(out _));
    }

    [Fact]
    public void SlicesAndBufferWriterGiveTheSameBytes()
    {
        var header = new FragmentHeader(1, 1, 0);
        var contiguous = new byte[FragmentWriter.GetLength(header, Samples)];
        FragmentWriter.Write(contiguous, header, Samples, Data);

        var sliced = new byte[contiguous.Length];
        Array.Fill(sliced, (byte)0xFF);
        ReadOnlyMemory<byte>[] slices = [Data.AsMemory(0, 5), Data.AsMemory(5, 3), ReadOnlyMemory<byte>.Empty, Data.AsMemory(8, 2)];
        Assert.Equal(sliced.Length, FragmentWriter.Write(sliced, header, Samples, slices));
        Assert.Equal(contiguous, sliced);

        var writer = new ArrayBufferWriter<byte>();
        FragmentWriter.Write(writer, header, Samples, Data);
        Assert.Equal(contiguous, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void CompositionOffsetsAreLeftOutWhenAllZero()
    {
        OutputSample[] audio = [OutputSample.Create(1024, 4, true), OutputSample.Create(1024, 6, true)];
        var header = new FragmentHeader(1, 2, 48_000);
        var bytes = new byte[FragmentWriter.GetLength(header, audio)];
        FragmentWriter.Write(bytes, header, audio, new byte[10]);
        BoxHeader.TryRead(bytes, out var moofHeader);
        var fragment = Assert.Single(MovieFragmentReader.Read(bytes.AsSpan(0, (int)moofHeader.Size)));
        Assert.Equal(2048, fragment.SummedDuration);
        Assert.Equal(48_000, fragment.DecodeTime);
        Assert.Equal(8 + 16 + 8 + 16 + 20 + 20 + (2 * 12), (int)moofHeader.Size);
    }

    [Fact]
    public void MismatchedSampleBytesAreRefused()
    {
        var header = new FragmentHeader(1, 1, 0);
        var buffer = new byte[200];
        Assert.Throws<ArgumentException>(() => FragmentWriter.Write(buffer, header, Samples, Data.AsSpan(1)));
    }

    private static ReadOnlySpan<byte> MovieFragmentReaderChild(ReadOnlySpan<byte> moof, FourCC type) =>
        MovieReader.Child(moof[8..], type);
}
