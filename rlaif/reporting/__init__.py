"""What people look at: the HTML run report (``python -m rlaif.report``), HTML forms of the evaluation reports,
and the adapter's model card. Reads the files a run or an evaluation left; trains and judges nothing."""
