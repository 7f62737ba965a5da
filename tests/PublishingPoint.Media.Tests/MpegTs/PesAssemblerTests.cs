using PublishingPoint.Media.MpegTs;

namespace PublishingPoint.Media.Tests.MpegTs;

public class PesAssemblerTests
{
    [Fact]
    public void AnUnboundedPesThatNeverEndsIsDroppedAtTheBoundInsteadOfGrowing()
    {
        var assembler = new PesAssembler();
        byte[] start = [0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1];
        assembler.Start(start);
        var payload = new byte[184];
        for (var i = 0; i < (PesAssembler.MaxPesBytes / payload.Length) + 10; i++)
        {
            assembler.Continue(payload);
        }

        Assert.Equal(1, assembler.Dropped);
        Assert.True(assembler.Finish().IsEmpty);

        assembler.Start(start);
        assembler.Continue(payload);
        Assert.Equal(start.Length + payload.Length, assembler.Finish().Length);
    }
}
