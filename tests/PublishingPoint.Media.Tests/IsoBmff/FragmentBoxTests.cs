using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.Tests.IsoBmff;

/// <summary>
/// Each box of a movie fragment written, then read back to the same value (and its header saying its type and its
/// size); the bytes of one of each checked against the layout the specification gives; the older versions other
/// encoders write read as well.
/// </summary>
public class FragmentBoxTests
{
    public static readonly TheoryData<uint> Mfhds = new() { 0u, 1u, 7u, uint.MaxValue };

    public static readonly TheoryData<long> Tfdts = new() { 0L, 90_000L, (long)uint.MaxValue + 1, long.MaxValue };

    public static readonly TheoryData<TfhdBox> Tfhds = new()
    {
        new TfhdBox(1),
        new TfhdBox(2) { DefaultBaseIsMoof = true },
        new TfhdBox(3) { DefaultSampleDuration = 3600, DefaultSampleFlags = 0x0101_0000 },
        new TfhdBox(4) { BaseDataOffset = 1234567890123, SampleDescriptionIndex = 1, DefaultSampleDuration = 1, DefaultSampleSize = 2, DefaultSampleFlags = 3 },
        new TfhdBox(5) { DurationIsEmpty = true, DefaultSampleSize = 188 },
    };

    public static readonly TheoryData<long, long> Tfxds = new() { { 0L, 20_000_000L }, { -232_200L, 21_333_333L }, { long.MaxValue, 1L } };

    public static readonly TheoryData<(long, long)[]> Tfrfs = new()
    {
        Array.Empty<(long, long)>(),
        new[] { (20_000_000L, 20_000_000L) },
        new[] { (40_000_000L, 20_000_000L), (60_000_000L, 19_999_999L) },
    };

    [Theory]
    [MemberData(nameof(Mfhds))]
    public void Mfhd_RoundTrips(uint sequence)
    {
        var box = new MfhdBox(sequence);
        var payload = Written(box.Write, MfhdBox.Size, BoxTypes.Mfhd);
        Assert.Equal(box, MfhdBox.Read(payload));
    }

    [Theory]
    [MemberData(nameof(Tfdts))]
    public void Tfdt_RoundTrips(long time)
    {
        var box = new TfdtBox(time);
        var payload = Written(box.Write, TfdtBox.Size, BoxTypes.Tfdt);
        Assert.Equal(1, payload[0]);
        Assert.Equal(box, TfdtBox.Read(payload));
    }

    [Theory]
    [MemberData(nameof(Tfhds))]
    public void Tfhd_RoundTrips(TfhdBox box)
    {
        var payload = Written(box.Write, box.Size, BoxTypes.Tfhd);
        Assert.Equal(box, TfhdBox.Read(payload));
    }

    [Theory]
    [MemberData(nameof(Tfxds))]
    public void Tfxd_RoundTrips(long time, long duration)
    {
        var box = new TfxdBox(time, duration);
        var payload = WrittenUuid(box.Write, TfxdBox.Size, BoxTypes.Tfxd);
        Assert.Equal(box, TfxdBox.Read(payload));
    }

    [Theory]
    [MemberData(nameof(Tfrfs))]
    public void Tfrf_RoundTrips((long, long)[] following)
    {
        var box = new TfrfBox(following);
        var payload = WrittenUuid(box.Write, box.Size, BoxTypes.Tfrf);
        Assert.Equal(following, TfrfBox.Read(payload).Following);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Trun_RoundTripsThroughTrackRunReader(bool compositionOffsets)
    {
        OutputSample[] samples =
        [
            OutputSample.Create(3600, 1000, isSync: true, compositionOffset: compositionOffsets ? 7200 : 0),
            OutputSample.Create(3600, 200, isSync: false, compositionOffset: compositionOffsets ? -3600 : 0),
            OutputSample.Create(3003, 0, isSync: false, compositionOffset: 0),
        ];
        var size = TrunBox.Size(samples.Length, compositionOffsets);
        var buffer = new byte[size];
        Assert.Equal(size, TrunBox.Write(buffer, 4321, samples));
        Assert.True(BoxHeader.TryRead(buffer, out var header));
        Assert.Equal((BoxTypes.Trun, (long)size), (header.Type, header.Size));

        var run = new TrackRunReader(buffer.AsSpan(header.HeaderLength), default);
        Assert.Equal((3, 4321), (run.SampleCount, run.DataOffset));
        foreach (var expected in samples)
        {
            Assert.True(run.TryNext(out var read));
            Assert.Equal(new RunSample(expected.Duration, (uint)expected.Size, expected.Flags, expected.CompositionOffset), read);
        }

        Assert.False(run.TryNext(out _));
    }

    [Fact]
    public void Bytes_FollowTheSpecificationLayout()
    {
        // §8.8.5: size 16, 'mfhd', version 0, flags 0, sequence_number
        Assert.Equal("000000106D666864000000000000002A", Hex(new MfhdBox(42).Write, MfhdBox.Size));

        // §8.8.12 v1: size 20, 'tfdt', version 1, flags 0, 64-bit baseMediaDecodeTime
        Assert.Equal("0000001474666474010000000000000100000000", Hex(new TfdtBox(1L << 32).Write, TfdtBox.Size));

        // §8.8.7: size 24, 'tfhd', flags default-base-is-moof (0x020000) | default-sample-duration-present (0x08)
        Assert.Equal("0000001474666864000200080000000700000E10", Hex(new TfhdBox(7) { DefaultBaseIsMoof = true, DefaultSampleDuration = 3600 }.Write, 20));
    }

    [Fact]
    public void OlderVersions_AreRead()
    {
        // tfdt v0 (32-bit), tfxd v0 and tfrf v0 (32-bit time and duration), as some encoders send them
        Assert.Equal(new TfdtBox(0x01020304), TfdtBox.Read(Convert.FromHexString("0000000001020304")));
        Assert.Equal(new TfxdBox(5, 6), TfxdBox.Read(Convert.FromHexString("000000000000000500000006")));
        Assert.Equal([(7L, 8L)], TfrfBox.Read(Convert.FromHexString("00000000010000000700000008")).Following);
    }

    [Fact]
    public void TruncatedBoxes_AreRefused()
    {
        Assert.Throws<InvalidBoxException>(() => TfhdBox.Read(Convert.FromHexString("0002000800000007")));
        Assert.Throws<InvalidBoxException>(() => TfdtBox.Read(Convert.FromHexString("0100000000000001")));
        Assert.Throws<InvalidBoxException>(() => TfrfBox.Read(Convert.FromHexString("0100000002")));
        Assert.Throws<InvalidBoxException>(() => MfhdBox.Read(Convert.FromHexString("000000")));
    }

    private delegate int Writer(Span<byte> destination);

    /// <summary>The payload after the header, once the header has said the right type and size.</summary>
    private static byte[] Written(Writer write, int size, FourCC type)
    {
        var buffer = new byte[size + 4];
        Assert.Equal(size, write(buffer));
        Assert.True(BoxHeader.TryRead(buffer, out var header));
        Assert.Equal((type, (long)size), (header.Type, header.Size));
        return buffer[header.HeaderLength..size];
    }

    private static byte[] WrittenUuid(Writer write, int size, Guid userType)
    {
        var buffer = new byte[size];
        Assert.Equal(size, write(buffer));
        Assert.True(BoxHeader.TryRead(buffer, out var header));
        Assert.Equal((BoxTypes.Uuid, userType, (long)size), (header.Type, header.UserType, header.Size));
        return buffer[header.HeaderLength..];
    }

    private static string Hex(Writer write, int size)
    {
        var buffer = new byte[size];
        write(buffer);
        return Convert.ToHexString(buffer);
    }
}
